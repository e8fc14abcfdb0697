//go:build linux

package upgrader

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/handoff-go/handoff/internal/testutil"
	"github.com/handoff-go/handoff/internal/wire"
)

// dialStop sends OpStop on a fresh control connection and returns the
// connection with the server's Result.
func dialStop(t *testing.T, ctl string) (*wire.Conn, wire.Result) {
	t.Helper()
	c := request(t, ctl, wire.Request{Op: wire.OpStop})
	var res wire.Result
	if err := c.Expect(wire.TypeResult, &res); err != nil {
		t.Fatalf("stop request: %v; want a Result", err)
	}
	return c, res
}

// TestControlStop: a stop request closes Exit, refuses later upgrades, and
// the connection stays open until Stop, so the client sees EOF only then.
func TestControlStop(t *testing.T) {
	testutil.CheckLeaks(t)
	ctl := filepath.Join(testutil.ShortDir(t), "ctl.sock")
	u, _ := serving(t, Options{ControlPath: ctl})
	c, res := dialStop(t, ctl)
	if !res.OK || res.PID != os.Getpid() {
		t.Fatalf("stop result: got %+v; want OK naming pid %d", res, os.Getpid())
	}
	select {
	case <-u.Exit():
	case <-time.After(5 * time.Second):
		t.Fatal("Exit not closed within 5s of an accepted stop request")
	}
	if got := exitReasonOf(u); got != exitStopRequested {
		t.Errorf("exit reason: got %d; want %d (stop requested)", got, exitStopRequested)
	}
	if err := u.Upgrade(context.Background()); !errors.Is(err, ErrStopped) {
		t.Fatalf("upgrade after a stop request: got %v; want ErrStopped", err)
	}
	c.SetDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := c.Recv(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("before Stop: got %v; want the connection still open (deadline exceeded)", err)
	}
	u.Stop()
	if got := exitReasonOf(u); got != exitStopRequested {
		t.Errorf("exit reason after Stop: got %d; want the first, %d (stop requested)", got, exitStopRequested)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Recv(); !errors.Is(err, wire.ErrClosed) {
		t.Fatalf("after Stop: got %v; want EOF (wire.ErrClosed)", err)
	}
}

// TestControlStopRefusedWhileUpgrading: a process that is not simply
// serving says why and keeps going; the client may ask again.
func TestControlStopRefusedWhileUpgrading(t *testing.T) {
	testutil.CheckLeaks(t)
	ctl := filepath.Join(testutil.ShortDir(t), "ctl.sock")
	u := upgradingOn(t, ctl)
	_, res := dialStop(t, ctl)
	if res.OK || !strings.Contains(res.Error, "already in progress") {
		t.Fatalf("got %+v; want a failed Result saying an upgrade is in progress", res)
	}
	select {
	case <-u.Exit():
		t.Fatal("Exit closed by a refused stop request")
	default:
	}
}
