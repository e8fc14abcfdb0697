//go:build linux

package upgrader

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/handoff-go/handoff/control"
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
	if got := u.ExitReason(); got != ExitStopRequested {
		t.Errorf("exit reason: got %q; want %q", got, ExitStopRequested)
	}
	if err := u.Upgrade(context.Background()); !errors.Is(err, ErrStopped) {
		t.Fatalf("upgrade after a stop request: got %v; want ErrStopped", err)
	}
	c.SetDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := c.Recv(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("before Stop: got %v; want the connection still open (deadline exceeded)", err)
	}
	u.Stop()
	if got := u.ExitReason(); got != ExitStopRequested {
		t.Errorf("exit reason after Stop: got %q; want the first, %q", got, ExitStopRequested)
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

// connPair is a connected pair of Unix stream sockets: the client's end
// and the server's, as accept would return it.
func connPair(t *testing.T) (client *wire.Conn, clientRaw, server *net.UnixConn) {
	t.Helper()
	clientRaw, server = testutil.SocketPair(t)
	return wire.NewConn(clientRaw), clientRaw, server
}

// TestControlWithdrawnRequestIsDropped: a client that sent a request and
// gave up before the server could read it (the server was out of fds, the
// connection waited in the backlog) is gone by the time the server reads
// the request: the server must not carry it out. A client that stays
// gets its receipt and its answer.
func TestControlWithdrawnRequestIsDropped(t *testing.T) {
	testutil.CheckLeaks(t)
	for _, tc := range []struct {
		name     string
		op       string
		ack      bool
		withdraw func(c *wire.Conn, raw *net.UnixConn)
	}{
		{name: "stop, client closed", op: wire.OpStop, withdraw: func(c *wire.Conn, _ *net.UnixConn) { c.Close() }},
		{name: "stop, client shut down its sending side", op: wire.OpStop, ack: true,
			withdraw: func(_ *wire.Conn, raw *net.UnixConn) { raw.CloseWrite() }},
		{name: "upgrade, client closed", op: wire.OpUpgrade, ack: true, withdraw: func(c *wire.Conn, _ *net.UnixConn) { c.Close() }},
		{name: "upgrade, client shut down its sending side", op: wire.OpUpgrade,
			withdraw: func(_ *wire.Conn, raw *net.UnixConn) { raw.CloseWrite() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctl := filepath.Join(testutil.ShortDir(t), "ctl.sock")
			u, _ := serving(t, Options{ControlPath: ctl, Command: helperCommand("serve")})
			c, raw, server := connPair(t)
			if err := c.Send(wire.TypeRequest, wire.Request{Op: tc.op, Ack: tc.ack}); err != nil {
				t.Fatal(err)
			}
			tc.withdraw(c, raw)
			u.ctl.handle(server) // what the accept loop does, once it can
			if st := u.status(); st.State != control.StateServing || st.LastUpgrade != nil {
				t.Errorf("after a withdrawn %s: state %s, last upgrade %+v; want serving, no upgrade tried", tc.op, st.State, st.LastUpgrade)
			}
			select {
			case <-u.Exit():
				t.Errorf("Exit closed by a withdrawn %s", tc.op)
			default:
			}
		})
	}
}

// TestControlWithdrawnTakeoverIsNotBegun: a process that asked for a
// takeover and gave up before the server could read it (it has gone) is
// not handed anything: no upgrade is begun for it.
func TestControlWithdrawnTakeoverIsNotBegun(t *testing.T) {
	testutil.CheckLeaks(t)
	ctl := filepath.Join(testutil.ShortDir(t), "ctl.sock")
	u, _ := serving(t, Options{ControlPath: ctl})
	c, _, server := connPair(t)
	c.Send(wire.TypeRequest, wire.Request{Op: wire.OpTakeover})
	c.Send(wire.TypeHello, wire.Hello{PID: os.Getpid()})
	c.Close()
	u.ctl.handle(server)
	if st := u.status(); st.State != control.StateServing || st.LastUpgrade != nil {
		t.Errorf("after a withdrawn takeover: state %s, last upgrade %+v; want serving, no upgrade begun", st.State, st.LastUpgrade)
	}
}

// TestControlReceiptThenAnswer: a client that asked for a receipt and
// stays gets the receipt first, then the answer.
func TestControlReceiptThenAnswer(t *testing.T) {
	testutil.CheckLeaks(t)
	ctl := filepath.Join(testutil.ShortDir(t), "ctl.sock")
	u, _ := serving(t, Options{ControlPath: ctl})
	c := request(t, ctl, wire.Request{Op: wire.OpStop, Ack: true})
	c.SetTimeout(5 * time.Second)
	var p wire.Progress
	if err := c.Expect(wire.TypeProgress, &p); err != nil || p.Event != wire.EventReceived || p.PID != os.Getpid() {
		t.Fatalf("first answer: %+v, %v; want a %q progress naming pid %d", p, err, wire.EventReceived, os.Getpid())
	}
	var res wire.Result
	if err := c.Expect(wire.TypeResult, &res); err != nil || !res.OK {
		t.Fatalf("then: %+v, %v; want an OK Result", res, err)
	}
	<-u.Exit()
	if _, err := (control.Client{Path: ctl}).Status(); errors.Is(err, control.ErrNoAnswer) {
		t.Errorf("status after a stop: %v; want an answer", err)
	}
}
