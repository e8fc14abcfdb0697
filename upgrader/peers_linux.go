package upgrader

import (
	"os"
	"strconv"
	"syscall"

	"github.com/handoff-go/handoff/control"
	"github.com/handoff-go/handoff/internal/procfs"
)

// observe looks pid up: ok when it runs (a zombie counts as gone) as this
// process's user; the Peer carries its start time.
func observe(pid int) (control.Peer, bool) {
	if pid <= 0 {
		return control.Peer{}, false
	}
	fi, err := os.Stat("/proc/" + strconv.Itoa(pid))
	if err != nil {
		return control.Peer{}, false
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Geteuid() {
		return control.Peer{}, false
	}
	st, err := procfs.ReadStat(pid)
	if err != nil || !st.Running() {
		return control.Peer{}, false
	}
	return control.Peer{PID: pid, Start: st.Start}, true
}

// alive reports whether p still runs: the same pid with the same start
// time, not a zombie.
func alive(p control.Peer) bool {
	st, err := procfs.ReadStat(p.PID)
	return err == nil && st.Running() && (p.Start == 0 || st.Start == p.Start)
}
