//go:build unix

package httpdrain_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/handoff-go/handoff/httpdrain"
	"github.com/handoff-go/handoff/internal/testutil"
)

// handMover "moves" a connection to a second server in this process, the
// way the upgrader moves it to another: through a dup of its descriptor,
// while the first server closes its own.
type handMover struct {
	fail  error
	moves atomic.Int32
	to    *chanListener
}

func (m *handMover) CanMove(net.Listener) bool { return true }

func (m *handMover) Move(_ net.Listener, c net.Conn) error {
	m.moves.Add(1)
	if m.fail != nil {
		return m.fail
	}
	f, err := c.(interface{ File() (*os.File, error) }).File() // a dup
	if err != nil {
		return err
	}
	defer f.Close()
	nc, err := net.FileConn(f)
	if err != nil {
		return err
	}
	m.to.ch <- nc
	return nil
}

// chanListener accepts what is sent on ch.
type chanListener struct {
	ch   chan net.Conn
	once sync.Once
	done chan struct{}
}

func newChanListener() *chanListener {
	return &chanListener{ch: make(chan net.Conn, 16), done: make(chan struct{})}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{} }

// serveSecond serves "second" on a plain http.Server from l.
func serveSecond(t *testing.T, l *chanListener) {
	t.Helper()
	srv := &http.Server{Handler: okHandler("second")}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

// TestDrainMovesIdleConn: an idle keep-alive connection is handed to the
// Mover at once when the drain starts, the drain ends without waiting for
// IdleGrace, and the client's next request on the same connection is
// answered by the process that took it, with no EOF between.
func TestDrainMovesIdleConn(t *testing.T) {
	m := &handMover{to: newChanListener()}
	serveSecond(t, m.to)
	sv := newServer(t, okHandler("first"), httpdrain.Options{Mover: m, IdleGrace: waitLimit})
	c := testutil.MustDialRaw(t, sv.addr)
	if _, body, err := c.Get("/"); err != nil || body != "first" {
		t.Fatalf("before the drain: %q, %v; want first", body, err)
	}
	if err := recvErr(t, "Drain", drainAsync(sv.s)); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	resp, body, err := c.Get("/")
	if err != nil || body != "second" || resp.Close {
		t.Fatalf("after the drain: %q, %v (close %v); want second on the same connection", body, err, resp != nil && resp.Close)
	}
	if n, moved := m.moves.Load(), httpdrain.MovedCount(sv.s); n != 1 || moved != 1 {
		t.Errorf("Move called %d times, moved %d; want 1 and 1", n, moved)
	}
}

// TestDrainAfterFailedMove: when Move fails the connection stays with the
// server and drains as without a Mover: closed after IdleGrace, with
// FIN, never reset.
func TestDrainAfterFailedMove(t *testing.T) {
	m := &handMover{fail: errors.New("next process refused"), to: newChanListener()}
	sv := newServer(t, okHandler("first"), httpdrain.Options{Mover: m})
	c := testutil.MustDialRaw(t, sv.addr)
	if _, _, err := c.Get("/"); err != nil {
		t.Fatal(err)
	}
	errc := drainAsync(sv.s)
	c.WaitEOF(t)
	if err := recvErr(t, "Drain", errc); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if n, moved := m.moves.Load(), httpdrain.MovedCount(sv.s); n != 1 || moved != 0 {
		t.Errorf("Move called %d times, moved %d; want 1 and 0", n, moved)
	}
}

// holding is a handler that answers "first", holding /hold until the
// drain has started.
type holding struct{ started, release chan struct{} }

// serveHolding serves a holding handler, with a Mover to a second server
// that answers "second", and dials it.
func serveHolding(t *testing.T) (*serving, *testutil.RawConn, *holding) {
	t.Helper()
	m := &handMover{to: newChanListener()}
	serveSecond(t, m.to)
	hold := &holding{started: make(chan struct{}), release: make(chan struct{})}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			close(hold.started)
			<-hold.release
		}
		fmt.Fprint(w, "first")
	})
	sv := newServer(t, h, httpdrain.Options{Mover: m, IdleGrace: waitLimit})
	return sv, testutil.MustDialRaw(t, sv.addr), hold
}

// drain starts the drain once /hold is being handled (else the request may
// move unread, which is fine but not what the callers test), then lets
// the handler answer.
func (h *holding) drain(t *testing.T, sv *serving) <-chan error {
	t.Helper()
	waitClosed(t, "handler start", h.started)
	errc := drainAsync(sv.s)
	waitClosed(t, "Draining", sv.s.Draining())
	close(h.release)
	return errc
}

// TestBusyConnMovesWhenIdle: a request in flight when the drain starts is
// answered without "Connection: close" and its connection moves as soon
// as it is idle; a request written after that reaches the new server.
func TestBusyConnMovesWhenIdle(t *testing.T) {
	sv, c, hold := serveHolding(t)
	if err := c.Send("/hold"); err != nil {
		t.Fatal(err)
	}
	errc := hold.drain(t, sv)
	resp, body, err := c.ReadResponse()
	if err != nil || body != "first" || resp.Close {
		t.Fatalf("held request: %q, %v; want first without Connection: close", body, err)
	}
	if err := recvErr(t, "Drain", errc); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if _, body, err := c.Get("/"); err != nil || body != "second" {
		t.Fatalf("after the move: %q, %v; want second", body, err)
	}
}

// TestBufferedBytesNotMoved: a connection whose next request has partly
// arrived with the previous one (pipelined, so net/http's reader holds
// those bytes) must not move while it does: the rest of that request
// reaches the same server, which answers it; only then, idle and empty,
// does the connection move. Moving it early would lose the two bytes and
// the new server would answer 400.
func TestBufferedBytesNotMoved(t *testing.T) {
	sv, c, hold := serveHolding(t)
	if _, err := fmt.Fprint(c.Conn, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\nGE"); err != nil {
		t.Fatal(err)
	}
	errc := hold.drain(t, sv)
	if _, body, err := c.ReadResponse(); err != nil || body != "first" {
		t.Fatalf("held request: %q, %v", body, err)
	}
	if _, err := fmt.Fprint(c.Conn, "T / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if resp, body, err := c.ReadResponse(); err != nil || body != "first" {
		t.Fatalf("pipelined request: %v, %q, %v; want first (not moved with bytes buffered)", resp, body, err)
	}
	if err := recvErr(t, "Drain", errc); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if _, body, err := c.Get("/"); err != nil || body != "second" {
		t.Fatalf("after the pipelined request: %q, %v; want second (moved once empty)", body, err)
	}
}
