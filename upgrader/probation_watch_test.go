//go:build linux

package upgrader

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/handoff-go/handoff/internal/testutil"
	"github.com/handoff-go/handoff/internal/wire"
)

// TestWatchHearsTheLastWord: a successor that gives the service back and
// then exits (a build whose main returned) is judged by what it said, not
// by its exit. Both reach watch at once; before lastWord, watch took the
// exit about half the time and dropped the frame (CI saw "died (exit
// status 5)" where "gave the service back" was due), so 20 rounds fail
// with near certainty on that code.
func TestWatchHearsTheLastWord(t *testing.T) {
	testutil.CheckLeaks(t)
	u := &Upgrader{log: slog.New(slog.DiscardHandler)}
	for round := range 20 {
		old, child := wirePair(t)
		if err := child.Send(wire.TypeProbation, wire.Probation{Outcome: wire.OutcomeGaveBack, Reason: "health check failed"}); err != nil {
			t.Fatal(err)
		}
		child.Close() // the process is gone: its end is closed
		exited := make(chan error, 1)
		exited <- errors.New("exit status 5")
		n := &nextGen{conn: old, pid: 42, exited: exited}
		reason, kill := u.watch(n, 5*time.Second, make(chan struct{}))
		if want := "gave the service back: health check failed"; reason != want || kill {
			t.Fatalf("round %d: watch = %q, kill %v; want %q, no kill", round, reason, kill, want)
		}
		if took := len(exited) == 0; n.reaped != took {
			t.Fatalf("round %d: reaped %v, but the exit status was taken: %v", round, n.reaped, took)
		}
		old.Close()
	}
}
