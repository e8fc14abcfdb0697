//go:build linux

package upgrader

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/handoff-go/handoff/internal/testutil"
)

// TestExitReasonThroughProcesses: what a server sees through ExitReason
// on each real path that closes Exit, and that a later Stop does not
// change it.
func TestExitReasonThroughProcesses(t *testing.T) {
	tests := []struct {
		name  string
		close func(t *testing.T, u *Upgrader, ctl string)
		want  ExitReason
	}{
		{name: "Stop", want: ExitStopped, close: func(t *testing.T, u *Upgrader, ctl string) {
			u.Stop()
		}},
		{name: "handoff stop", want: ExitStopRequested, close: func(t *testing.T, u *Upgrader, ctl string) {
			c, res := dialStop(t, ctl)
			defer c.Close()
			if !res.OK {
				t.Fatalf("stop request: got %+v; want OK", res)
			}
		}},
		{name: "upgrade", want: ExitHandedOver, close: func(t *testing.T, u *Upgrader, ctl string) {
			if err := u.Upgrade(context.Background()); err != nil {
				t.Fatal(err)
			}
			reapAtCleanup(t, u.status().LastUpgrade.NewPID)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			testutil.CheckLeaks(t)
			ctl := filepath.Join(testutil.ShortDir(t), "ctl.sock")
			u, _ := serving(t, Options{ControlPath: ctl, Command: helperCommand("serve")})
			if got := u.ExitReason(); got != "" {
				t.Fatalf("while serving: got %q; want \"\"", got)
			}
			tc.close(t, u, ctl)
			<-u.Exit()
			if got := u.ExitReason(); got != tc.want {
				t.Errorf("got %q; want %q", got, tc.want)
			}
			u.Stop()
			if got := u.ExitReason(); got != tc.want {
				t.Errorf("after Stop: got %q; want the first reason, %q", got, tc.want)
			}
		})
	}
}
