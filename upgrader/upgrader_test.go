//go:build linux

package upgrader

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/handoff-go/handoff/control"
	"github.com/handoff-go/handoff/internal/pidfile"
	"github.com/handoff-go/handoff/internal/testutil"
	"github.com/handoff-go/handoff/internal/wire"
)

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	fds, err := testutil.OpenFDs(0)
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// checkExited fails the test unless Exit is closed, for reason want.
func checkExited(t *testing.T, u *Upgrader, want ExitReason) {
	t.Helper()
	select {
	case <-u.Exit():
	default:
		t.Fatalf("Exit open; want it closed (reason %q)", want)
	}
	if got := u.ExitReason(); got != want {
		t.Errorf("exit reason: got %q; want %q", got, want)
	}
}

func TestColdStartReadyStop(t *testing.T) {
	testutil.CheckLeaks(t)
	pidFile := filepath.Join(t.TempDir(), "app.pid")
	u, _ := serving(t, Options{PIDFile: pidFile})
	if got, err := pidfile.Read(pidFile); err != nil || got != os.Getpid() {
		t.Fatalf("pid file: got %d, %v; want %d", got, err, os.Getpid())
	}
	st := u.status()
	if st.State != "serving" || st.Mode != string(ModeCold) || st.Generation != 1 || len(st.Listeners) != 1 {
		t.Fatalf("status: got %+v; want serving cold generation 1 with 1 listener", st)
	}
	if err := u.Ready(); !errors.Is(err, ErrAlreadyReady) {
		t.Errorf("second Ready: got %v; want ErrAlreadyReady", err)
	}
	u.Stop()
	checkExited(t, u, ExitStopped)
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file after final Stop: got %v; want it removed", err)
	}
	if err := u.Upgrade(context.Background()); !errors.Is(err, ErrStopped) {
		t.Errorf("Upgrade after Stop: got %v; want ErrStopped", err)
	}
}

func TestUpgradeBeforeReady(t *testing.T) {
	testutil.CheckLeaks(t)
	u, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Stop()
	if err := u.Upgrade(context.Background()); !errors.Is(err, ErrNotReady) {
		t.Fatalf("got %v; want ErrNotReady", err)
	}
}

func TestUpgradeToChild(t *testing.T) {
	testutil.CheckLeaks(t)
	pidFile := filepath.Join(t.TempDir(), "app.pid")
	t.Setenv("UPGRADER_TEST_PIDFILE", pidFile) // for the child
	u, addr := serving(t, Options{PIDFile: pidFile, Command: helperCommand("serve")})
	if err := u.Upgrade(context.Background()); err != nil {
		t.Fatal(err)
	}
	child := u.status().LastUpgrade.NewPID
	reapAtCleanup(t, child)
	checkExited(t, u, ExitHandedOver)
	testutil.WaitFor(t, 5*time.Second, func() error {
		if got, err := pidfile.Read(pidFile); got != child {
			return fmt.Errorf("pid file: got %d (%v); want the child's %d", got, err, child)
		}
		return nil
	})
	if st := u.status(); st.State != "draining" {
		t.Errorf("old state: got %q; want draining", st.State)
	}
	testutil.WaitFor(t, 5*time.Second, func() error {
		if answer := getPID(addr); answer != strconv.Itoa(child) {
			return fmt.Errorf("GET / on the handed-over socket: X-Pid %q; want %d", answer, child)
		}
		return nil
	})
	if err := u.Upgrade(context.Background()); !errors.Is(err, ErrHandedOver) {
		t.Errorf("Upgrade after handover: got %v; want ErrHandedOver", err)
	}
	u.Stop()
	if got, _ := pidfile.Read(pidFile); got != child {
		t.Errorf("Stop after handover touched the pid file: got %d; want %d", got, child)
	}
}

func TestFailedUpgradesKeepServing(t *testing.T) {
	tests := []struct {
		name    string
		mode    string
		timeout time.Duration
		step    string
		want    func(error) bool
	}{
		{"exits before ready", "exit", 10 * time.Second, "handshake", func(err error) bool {
			var ee *ExitError
			return errors.As(err, &ee) && ee.State == "exit status 3"
		}},
		{"never ready", "hang", time.Second, "ready", func(err error) bool {
			return errors.Is(err, context.DeadlineExceeded)
		}},
		{"speaks garbage", "badproto", 10 * time.Second, "handshake", func(err error) bool {
			return errors.Is(err, wire.ErrMalformed)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			testutil.CheckLeaks(t)
			u, addr := serving(t, Options{Command: helperCommand(tc.mode), UpgradeTimeout: tc.timeout})
			err := u.Upgrade(context.Background())
			var ue *UpgradeError
			if !errors.As(err, &ue) || ue.Step != tc.step || ue.PID == 0 || !tc.want(err) {
				t.Fatalf("got %v (%#v); want an UpgradeError at step %s with the new pid and the cause", err, ue, tc.step)
			}
			if alive(control.Peer{PID: ue.PID}) {
				t.Errorf("failed child %d still runs", ue.PID)
			}
			if st := u.status(); st.State != "serving" || st.LastUpgrade == nil || st.LastUpgrade.Error == "" {
				t.Errorf("status after failure: got %+v; want serving with the error recorded", st)
			}
			if got := getPID(addr); got != strconv.Itoa(os.Getpid()) {
				t.Errorf("GET / after failure: X-Pid %q; want this process %d", got, os.Getpid())
			}
		})
	}
}

func TestOneUpgradeAtATime(t *testing.T) {
	testutil.CheckLeaks(t)
	u, _ := serving(t, Options{Command: helperCommand("hang"), UpgradeTimeout: time.Minute})
	first := make(chan error, 1)
	go func() { first <- u.Upgrade(context.Background()) }()
	testutil.WaitFor(t, 5*time.Second, stateIs(u, control.StateUpgrading))
	if err := u.Upgrade(context.Background()); !errors.Is(err, ErrUpgradeInProgress) {
		t.Errorf("second upgrade: got %v; want ErrUpgradeInProgress", err)
	}
	u.Stop() // cancels the hanging upgrade and kills its child
	err := <-first
	var ue *UpgradeError
	if !errors.As(err, &ue) || !errors.Is(err, context.Canceled) {
		t.Fatalf("first upgrade after Stop: got %v; want it cancelled", err)
	}
	if alive(control.Peer{PID: ue.PID}) {
		t.Errorf("cancelled child %d still runs", ue.PID)
	}
}

func TestUpgradeCancelledByContext(t *testing.T) {
	testutil.CheckLeaks(t)
	u, _ := serving(t, Options{Command: helperCommand("hang")})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := u.Upgrade(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v; want the context's deadline", err)
	}
	if st := u.status(); st.State != "serving" {
		t.Fatalf("state: got %q; want serving", st.State)
	}
}

func TestTakeover(t *testing.T) {
	testutil.CheckLeaks(t)
	ctl := filepath.Join(testutil.ShortDir(t), "ctl.sock")
	old, addr := serving(t, Options{ControlPath: ctl})
	nu, err := New(Options{ControlPath: ctl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nu.Stop)
	if nu.Mode() != ModeTakeover || nu.Generation() != 2 {
		t.Fatalf("new upgrader: mode %s generation %d; want takeover, 2", nu.Mode(), nu.Generation())
	}
	ln, err := nu.Listen("http", "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if ln.Addr().String() != addr {
		t.Fatalf("taken-over listener on %s; want the same socket on %s", ln.Addr(), addr)
	}
	if err := nu.Ready(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-old.Exit():
	case <-time.After(5 * time.Second):
		t.Fatal("old generation's Exit not closed after the takeover")
	}
	old.Stop()
	if _, err := os.Stat(ctl); err != nil {
		t.Fatalf("control socket after the old generation stopped: %v; want it kept for the new one", err)
	}
	nu.Stop()
	if _, err := os.Stat(ctl); !os.IsNotExist(err) {
		t.Errorf("control socket after the last generation stopped: %v; want it removed", err)
	}
}

func TestTakeoverRefusedWhileUpgrading(t *testing.T) {
	testutil.CheckLeaks(t)
	ctl := filepath.Join(testutil.ShortDir(t), "ctl.sock")
	upgradingOn(t, ctl)
	_, err := New(Options{ControlPath: ctl})
	var ae *wire.AbortError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "already in progress") {
		t.Fatalf("takeover during an upgrade: got %v; want it refused because an upgrade is in progress", err)
	}
}

func TestStaleControlSocketReplaced(t *testing.T) {
	testutil.CheckLeaks(t)
	ctl := filepath.Join(testutil.ShortDir(t), "ctl.sock")
	stale, err := net.Listen("unix", ctl)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close() // the file stays; nobody answers: a crashed process's leftover
	u, _ := serving(t, Options{ControlPath: ctl})
	if u.Mode() != ModeCold {
		t.Fatalf("mode: got %s; want cold", u.Mode())
	}
	st := status(t, ctl)
	if st.PID != os.Getpid() {
		t.Fatalf("status over the replaced socket: pid %d; want %d", st.PID, os.Getpid())
	}
}

// request dials the control socket at path and sends req; the connection
// is closed at cleanup.
func request(t *testing.T, path string, req wire.Request) *wire.Conn {
	t.Helper()
	raw, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c := wire.NewConn(raw.(*net.UnixConn))
	t.Cleanup(func() { c.Close() })
	if err := c.Send(wire.TypeRequest, req); err != nil {
		t.Fatal(err)
	}
	return c
}

// status asks the control socket at path for a status report.
func status(t *testing.T, path string) control.Status {
	t.Helper()
	c := request(t, path, wire.Request{Op: wire.OpStatus})
	var st control.Status
	if err := c.Expect(wire.TypeStatus, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestControlUpgradeRefusedGetsResult: a control client whose upgrade is
// refused must be told why, not hung up on.
func TestControlUpgradeRefusedGetsResult(t *testing.T) {
	testutil.CheckLeaks(t)
	ctl := filepath.Join(testutil.ShortDir(t), "ctl.sock")
	upgradingOn(t, ctl)
	c := request(t, ctl, wire.Request{Op: wire.OpUpgrade})
	var res wire.Result
	if err := c.Expect(wire.TypeResult, &res); err != nil || res.OK || !strings.Contains(res.Error, "already in progress") {
		t.Fatalf("got %+v, %v; want a failed Result saying an upgrade is in progress", res, err)
	}
}

// upgradingOn serves with a control socket at ctl and returns once an
// upgrade is under way that will not end by itself (its child never gets
// ready): Stop at cleanup ends it and kills the child.
func upgradingOn(t *testing.T, ctl string) *Upgrader {
	t.Helper()
	u, _ := serving(t, Options{ControlPath: ctl, Command: helperCommand("hang"), UpgradeTimeout: time.Minute})
	go u.Upgrade(context.Background())
	testutil.WaitFor(t, 5*time.Second, stateIs(u, control.StateUpgrading))
	return u
}

// stateIs is a condition for testutil.WaitFor: u is in state want.
func stateIs(u *Upgrader, want control.State) func() error {
	return func() error {
		if got := u.status().State; got != want {
			return fmt.Errorf("state %s; want %s", got, want)
		}
		return nil
	}
}
