//go:build linux

package upgrader

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/handoff-go/handoff/control"
	"github.com/handoff-go/handoff/internal/testutil"
)

// TestProbation: the old generation watches a ready successor. One that
// dies or gives the service back rolls the upgrade back: Upgrade says
// why, the old generation serves again from the same socket (its Exit
// open, its state serving, the record marked), and connections made while
// nobody accepted are served. One that lives through the period passes.
func TestProbation(t *testing.T) {
	for _, tc := range []struct {
		name       string
		mode       string
		rolledBack bool
		reason     string // in the error and the record
	}{
		{name: "dies after ready", mode: "diesafterready", rolledBack: true, reason: "died (exit status 4)"},
		{name: "returns from main", mode: "returnsafterready", rolledBack: true, reason: "gave the service back: stopped before its probation ended"},
		{name: "gives back", mode: "givesback", rolledBack: true, reason: "gave the service back: health check failed"},
		{name: "passes", mode: "serve"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, addr := serving(t, Options{ControlPath: filepath.Join(testutil.ShortDir(t), "ctl.sock"),
				Command: helperCommand(tc.mode), Probation: 2 * time.Second})
			err := u.Upgrade(context.Background())
			if last := u.status().LastUpgrade; last != nil && last.NewPID > 0 {
				reapAtCleanup(t, last.NewPID)
			}
			if !tc.rolledBack {
				if err != nil {
					t.Fatalf("Upgrade: %v; want nil (passed)", err)
				}
				if u.ExitReason() != ExitHandedOver {
					t.Fatalf("exit reason %q after a pass; want %q", u.ExitReason(), ExitHandedOver)
				}
				return
			}
			var rb *RollbackError
			if !errors.As(err, &rb) || !errors.Is(err, ErrRolledBack) || rb.Reason != tc.reason {
				t.Fatalf("Upgrade: %v; want a rollback because it %s", err, tc.reason)
			}
			st := u.status()
			if st.State != control.StateServing || st.LastUpgrade == nil || !st.LastUpgrade.RolledBack ||
				st.LastUpgrade.NewPID != rb.PID {
				t.Fatalf("status after rollback: state %s, last upgrade %+v; want serving, rolled back from pid %d",
					st.State, st.LastUpgrade, rb.PID)
			}
			select {
			case <-u.Exit():
				t.Fatalf("Exit closed (%s) after a rollback", u.ExitReason())
			default:
			}
			// Served by this process, on a fresh connection: it accepts again.
			want := strconv.Itoa(u.pid)
			for i := range 20 {
				if got := getPID(addr); got != want {
					t.Fatalf("request %d after rollback answered by %q; want pid %s", i, got, want)
				}
			}
			// And the next upgrade works.
			u.opts.Command = helperCommand("serve")
			err = u.Upgrade(context.Background())
			reapAtCleanup(t, u.status().LastUpgrade.NewPID)
			if err != nil {
				t.Fatalf("the upgrade after a rollback: %v", err)
			}
		})
	}
}

// TestProbationQueuedConnsServed: connections made while the old side
// had paused and the successor accepted none (a hung build, which then
// dies) wait in the queue and are served after the rollback, none
// refused.
func TestProbationQueuedConnsServed(t *testing.T) {
	u, addr := serving(t, Options{Command: helperCommand("neveraccepts"), Probation: 3 * time.Second})
	done := make(chan error, 1)
	go func() { done <- u.Upgrade(context.Background()) }()
	// Wait until the old side is on probation, then connect while the
	// successor lives or dies: the kernel queues what nobody accepts.
	deadline := time.Now().Add(10 * time.Second)
	for u.status().State != control.StateProbation {
		if time.Now().After(deadline) {
			t.Fatalf("never on probation; state %s", u.status().State)
		}
		time.Sleep(5 * time.Millisecond)
	}
	var conns []net.Conn
	for range 50 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial on probation: %v", err)
		}
		conns = append(conns, c)
		time.Sleep(10 * time.Millisecond)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	err := <-done
	reapAtCleanup(t, u.status().LastUpgrade.NewPID)
	if !errors.Is(err, ErrRolledBack) {
		t.Fatalf("Upgrade: %v; want rolled back", err)
	}
	for i, c := range conns {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")); err != nil {
			t.Fatalf("conn %d: write: %v", i, err)
		}
		buf := make([]byte, 12)
		if _, err := c.Read(buf); err != nil || string(buf) != "HTTP/1.1 200" {
			t.Fatalf("conn %d made on probation: read %q, %v; want a 200", i, buf, err)
		}
	}
}
