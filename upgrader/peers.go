package upgrader

import (
	"github.com/handoff-go/handoff/control"
	"github.com/handoff-go/handoff/internal/wire"
)

// maxDeclaredDraining bounds how many draining generations a predecessor
// may name; any more than that is not a server but a lie.
const maxDeclaredDraining = 64

// pruneGone keeps the peers that still run.
func pruneGone(ps []control.Peer) []control.Peer {
	kept := ps[:0]
	for _, p := range ps {
		if alive(p) {
			kept = append(kept, p)
		}
	}
	clear(ps[len(kept):])
	return kept
}

// checkDeclared turns the draining generations a predecessor
// declared into peers this process has checked itself: each still runs,
// as the same process (start time) and as this process's user. The rest
// are dropped and returned for the log.
func checkDeclared(declared []wire.Peer) (kept []control.Peer, dropped []wire.Peer) {
	for i, d := range declared {
		if i >= maxDeclaredDraining {
			return kept, append(dropped, declared[i:]...)
		}
		p, ok := observe(d.PID)
		if !ok || (d.Start != 0 && d.Start != p.Start) {
			dropped = append(dropped, d)
			continue
		}
		p.Generation = d.Generation
		kept = append(kept, p)
	}
	return kept, dropped
}
