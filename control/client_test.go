package control

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/handoff-go/handoff/internal/ctlsock"
	"github.com/handoff-go/handoff/internal/testutil"
	"github.com/handoff-go/handoff/internal/wire"
	"github.com/handoff-go/handoff/listeners"
)

// The constants clients read are the protocol's, letter for letter.
func TestConstantsMatchTheProtocol(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{EventUpgrading, wire.EventUpgrading}, {EventStarted, wire.EventStarted},
		{EventHandedOver, wire.EventHandedOver}, {EventReady, wire.EventReady},
		{EventDraining, wire.EventDraining}, {CodeFailed, wire.CodeFailed},
		{CodeInProgress, wire.CodeInProgress}, {CodeNotReady, wire.CodeNotReady},
		{CodeStopping, wire.CodeStopping}, {CodeHandedOver, wire.CodeHandedOver},
		{CodeTooManyDraining, wire.CodeTooManyDraining}, {CodeUnsupported, wire.CodeUnsupported},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q; want %q", tc.got, tc.want)
		}
	}
}

func TestDialFailuresAreClassified(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	testutil.StaleSocket(t, stale)
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	long := filepath.Join(dir, strings.Repeat("x", 200))
	for _, tc := range []struct {
		name  string
		path  string
		want  error
		cause error
		says  string
	}{
		{name: "missing", path: filepath.Join(dir, "none.sock"), want: ErrNoServer, cause: os.ErrNotExist},
		{name: "stale", path: stale, want: ErrStaleSocket, cause: syscall.ECONNREFUSED, says: "stale socket"},
		{name: "regular file", path: file, want: ErrNotSocket, cause: syscall.ECONNREFUSED, says: "is a regular file, not a control socket"},
		{name: "directory", path: dir, want: ErrNotSocket, cause: syscall.ECONNREFUSED, says: "is a directory, not a control socket"},
		{name: "too long", path: long, want: ErrPathTooLong, says: fmt.Sprintf("may have at most %d", ctlsock.MaxPathLen)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Client{Path: tc.path}.Status()
			if !errors.Is(err, tc.want) || (tc.cause != nil && !errors.Is(err, tc.cause)) || !strings.Contains(fmt.Sprint(err), tc.says) {
				t.Errorf("got %v; want an error matching %v and %v, saying %q", err, tc.want, tc.cause, tc.says)
			}
			if tc.want != ErrStaleSocket && errors.Is(err, ErrStaleSocket) {
				t.Errorf("got %v; want no stale-socket error for a path that is no socket", err)
			}
		})
	}
}

// A server that cannot accept (out of fds) leaves the connection and the
// request in the backlog: the call gives up after AnswerTimeout with
// ErrNoAnswer, having withdrawn the request, and a server that reads it
// afterwards sees its client gone.
func TestNoAnswerWithdraws(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctl.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, op := range []func(Client) (*Call, error){Client.Upgrade, Client.Stop} {
		c, err := op(Client{Path: path, AnswerTimeout: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(time.Minute))
		start := time.Now()
		_, err = c.Result(func(Progress) {})
		if !errors.Is(err, ErrNoAnswer) || errors.Is(err, ErrOutcomeUnknown) {
			t.Errorf("got %v; want ErrNoAnswer", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("gave up after %v; want about the answer timeout and the grace", d)
		}
		c.Close()
		raw, err := ln.AcceptUnix() // the server gets to it at last
		if err != nil {
			t.Fatal(err)
		}
		var req wire.Request
		if err := wire.NewConn(raw).Expect(wire.TypeRequest, &req); err != nil || !req.Ack {
			t.Errorf("queued request: %+v, %v; want one asking for a receipt", req, err)
		}
		if !ctlsock.PeerGone(raw) {
			t.Error("server: client not seen gone after it withdrew")
		}
		raw.Close()
	}
}

// A server that read the request just before the withdrawal says so, and
// its next word decides: an answer (it went ahead) or the hang-up (it
// dropped the request).
func TestWithdrawRaces(t *testing.T) {
	for _, tc := range []struct {
		name string
		then func(c *wire.Conn)
		want error // nil: the upgrade's Result
	}{
		{name: "went ahead", then: func(c *wire.Conn) { c.Send(wire.TypeResult, wire.Result{OK: true, PID: 7}) }},
		{name: "dropped", then: func(*wire.Conn) {}, want: ErrNoAnswer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := serveOnce(t, func(c *wire.Conn, req wire.Request) {
				time.Sleep(150 * time.Millisecond) // past the client's answer timeout: it withdraws meanwhile
				c.Send(wire.TypeProgress, wire.Progress{Event: wire.EventReceived})
				tc.then(c)
			})
			c, err := Client{Path: path, AnswerTimeout: 50 * time.Millisecond}.Upgrade()
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			res, err := c.Result(func(Progress) {})
			switch {
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("got %+v, %v; want %v", res, err, tc.want)
			case tc.want == nil && (err != nil || !res.OK || res.PID != 7):
				t.Errorf("got %+v, %v; want OK pid 7", res, err)
			}
		})
	}
}

// Once the server has received the request, a lost answer is not "no
// answer": the request may have been carried out.
func TestLostAfterReceiptIsUnknown(t *testing.T) {
	path := serveOnce(t, func(c *wire.Conn, _ wire.Request) {
		c.Send(wire.TypeProgress, wire.Progress{Event: wire.EventReceived})
		c.Send(wire.TypeProgress, wire.Progress{Event: wire.EventStarted, PID: 8})
	})
	_, err := call(t, path, Client.Upgrade).Result(func(Progress) {})
	if !errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, ErrNoAnswer) {
		t.Errorf("got %v; want ErrOutcomeUnknown", err)
	}
}

// call dials the server at path for op (Upgrade or Stop) with a deadline.
func call(t *testing.T, path string, op func(Client) (*Call, error)) *Call {
	t.Helper()
	c, err := op(Client{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return c
}

// serveOnce answers the first request on a fresh socket with reply.
func serveOnce(t *testing.T, reply func(c *wire.Conn, req wire.Request)) string {
	return serve(t, 1, reply)
}

// serve answers the first n requests on a fresh socket with reply.
func serve(t *testing.T, n int, reply func(c *wire.Conn, req wire.Request)) string {
	path := filepath.Join(t.TempDir(), "ctl.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for range n {
			raw, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			c := wire.NewConn(raw)
			c.SetTimeout(time.Second)
			var req wire.Request
			if c.Expect(wire.TypeRequest, &req) == nil {
				reply(c, req)
			}
			c.Close()
		}
	}()
	return path
}

func TestAbortIsARefusal(t *testing.T) {
	path := serveOnce(t, func(c *wire.Conn, _ wire.Request) {
		c.Send(wire.TypeAbort, wire.Abort{Reason: "busy"})
	})
	_, err := call(t, path, Client.Upgrade).Result(func(Progress) {})
	if re, ok := errors.AsType[*RefusedError](err); !ok || re.Reason != "busy" {
		t.Errorf("got %v; want a *RefusedError saying busy", err)
	}
}

func TestUpgradeProgressResultHangUp(t *testing.T) {
	path := serveOnce(t, func(c *wire.Conn, req wire.Request) {
		if req.Op != wire.OpUpgrade {
			return
		}
		c.Send(wire.TypeProgress, wire.Progress{Event: wire.EventStarted, PID: 7})
		c.Send(wire.TypeResult, wire.Result{OK: true, PID: 7})
	})
	up := call(t, path, Client.Upgrade)
	var steps []Progress
	res, err := up.Result(func(p Progress) { steps = append(steps, p) })
	if err != nil || !res.OK || res.PID != 7 || len(steps) != 1 || steps[0] != (Progress{Event: EventStarted, PID: 7}) {
		t.Fatalf("got %+v, %v after %+v; want OK pid 7 after one started step", res, err, steps)
	}
	if err := up.WaitHangUp(); err != nil {
		t.Errorf("WaitHangUp: got %v; want nil once the server hung up", err)
	}
}

// A stop has no progress: one arriving is an error, not ignored.
func TestStopRefusesProgress(t *testing.T) {
	path := serveOnce(t, func(c *wire.Conn, _ wire.Request) {
		c.Send(wire.TypeProgress, wire.Progress{Event: "x"})
	})
	if _, err := call(t, path, Client.Stop).Result(nil); !errors.Is(err, wire.ErrUnexpected) {
		t.Errorf("got %v; want an unexpected-message error", err)
	}
}

// A server that hangs up without an answer (it is stopping or handing
// over) says so by ErrHungUp, on which `handoff stop` asks again.
func TestHangUpWithoutAnswer(t *testing.T) {
	path := serveOnce(t, func(*wire.Conn, wire.Request) {})
	if _, err := call(t, path, Client.Stop).Result(nil); !errors.Is(err, ErrHungUp) {
		t.Errorf("got %v; want an error matching ErrHungUp", err)
	}
}

// A status too large for one answer comes in pages, each asked for from
// where the last one ended; Status returns them all, in order.
func TestStatusPages(t *testing.T) {
	all := []listeners.Info{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	asked := make(chan int, 2)
	path := serve(t, 2, func(c *wire.Conn, req wire.Request) {
		asked <- req.From
		end := min(req.From+2, len(all))
		c.Send(wire.TypeStatus, Status{PID: 7, Listeners: all[req.From:end], ListenersFrom: req.From, ListenersTotal: len(all)})
	})
	st, err := Client{Path: path}.Status()
	if err != nil {
		t.Fatal(err)
	}
	froms := []int{<-asked, <-asked}
	if !reflect.DeepEqual(st.Listeners, all) || !reflect.DeepEqual(froms, []int{0, 2}) {
		t.Errorf("got listeners %+v after asking from %v; want %+v after asking from [0 2]", st.Listeners, froms, all)
	}
}

// A server whose pages stop short is an error, not a short list.
func TestStatusPagesThatStopShort(t *testing.T) {
	path := serve(t, 2, func(c *wire.Conn, req wire.Request) {
		var ls []listeners.Info
		if req.From == 0 {
			ls = []listeners.Info{{Name: "a"}}
		}
		c.Send(wire.TypeStatus, Status{Listeners: ls, ListenersTotal: 3})
	})
	if _, err := (Client{Path: path}).Status(); err == nil {
		t.Error("got no error; want one saying the listeners stopped short")
	}
}
