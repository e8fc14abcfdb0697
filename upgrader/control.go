package upgrader

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/handoff-go/handoff/internal/wire"
)

// Limits of the control socket, which any process of the service's user
// (or root) may dial.
const (
	// maxControlConns bounds the control connections served at once; more
	// are turned away with a reason.
	maxControlConns = 16
	// controlFrameLimit bounds what a control client may make the server
	// buffer: requests, hellos and acks are a few bytes each.
	controlFrameLimit = 16 << 10
	// requestTimeout bounds how long a client may take to say what it
	// wants, and a takeover to say hello: neither holds an upgrade slot
	// until it has.
	requestTimeout = 5 * time.Second
	// maxAcceptBackoff caps the pause after a failed accept (out of fds,
	// say): the loop keeps trying until the socket is closed on purpose.
	maxAcceptBackoff = time.Second
)

// controlServer answers on the control socket. Its methods are nil-safe:
// without Options.ControlPath there is none.
type controlServer struct {
	u     *Upgrader
	ln    net.Listener
	slots chan struct{} // one per connection being served

	mu     sync.Mutex
	conns  map[*wire.Conn]struct{} // open requests and lingering upgrade clients
	closed bool
}

// openControl binds (or claims the inherited) control socket at path. It
// accepts nothing until start: a client that dials before then waits in
// the backlog. Only a socket this process bound gets its mode set.
func (u *Upgrader) openControl(path string) (*controlServer, error) {
	ln, err := u.set.Listen(controlName, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("upgrader: control socket: %w", err)
	}
	if !u.set.Inherited(controlName) {
		if err := restrictSocketFile(path); err != nil {
			ln.Close()
			return nil, fmt.Errorf("upgrader: control socket %s: %w", path, err)
		}
	}
	return &controlServer{u: u, ln: ln, slots: make(chan struct{}, maxControlConns),
		conns: map[*wire.Conn]struct{}{}}, nil
}

func (cs *controlServer) start() {
	if cs != nil {
		go cs.serve()
	}
}

// serve accepts until the listener is closed on purpose. Any other accept
// error (EMFILE when the process is out of fds, ECONNABORTED...) is
// retried with a growing pause, as net/http does: the control socket is
// how an operator recovers a struggling server, so it must outlive that.
func (cs *controlServer) serve() {
	var pause time.Duration
	for {
		raw, err := cs.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			pause = min(max(2*pause, 5*time.Millisecond), maxAcceptBackoff)
			cs.u.log.Warn("control socket: accept failed; retrying", "err", err, "retry_in", pause)
			time.Sleep(pause)
			continue
		}
		pause = 0
		select {
		case cs.slots <- struct{}{}:
			go func() {
				defer func() { <-cs.slots }()
				cs.handle(raw.(*net.UnixConn))
			}()
		default:
			cs.turnAway(raw.(*net.UnixConn))
		}
	}
}

// turnAway tells a client over the limit why, without reading from it.
func (cs *controlServer) turnAway(raw *net.UnixConn) {
	c := wire.NewConn(raw)
	c.SetTimeout(100 * time.Millisecond)
	c.Send(wire.TypeAbort, wire.Abort{Reason: fmt.Sprintf("busy: %d control connections already open", maxControlConns)})
	c.Close()
	cs.u.log.Warn("control connection turned away", "limit", maxControlConns)
}

// closeListener stops taking new control connections; requests already
// accepted carry on.
func (cs *controlServer) closeListener() {
	if cs != nil {
		cs.ln.Close()
	}
}

// close also hangs up on every client, which tells a lingering `handoff
// upgrade` that this process is gone.
func (cs *controlServer) close() {
	if cs == nil {
		return
	}
	cs.ln.Close()
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.closed = true
	for c := range cs.conns {
		c.Close()
	}
	clear(cs.conns)
}

func (cs *controlServer) track(c *wire.Conn) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.closed {
		return false
	}
	cs.conns[c] = struct{}{}
	return true
}

// untrack forgets c without closing it: its new owner closes it.
func (cs *controlServer) untrack(c *wire.Conn) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	delete(cs.conns, c)
}

func (cs *controlServer) release(c *wire.Conn) {
	cs.mu.Lock()
	_, mine := cs.conns[c]
	delete(cs.conns, c)
	cs.mu.Unlock()
	if mine {
		c.Close()
	}
}

func (cs *controlServer) handle(raw *net.UnixConn) {
	c := wire.NewConn(raw)
	c.SetMaxFrameSize(controlFrameLimit)
	if !cs.track(c) {
		c.Close()
		return
	}
	keep := false
	defer func() {
		if !keep {
			cs.release(c)
		}
	}()
	if err := checkPeerUser(c, "control client"); err != nil {
		cred, _ := c.PeerCred()
		cs.u.log.Warn("control connection refused", "peer_pid", cred.PID, "peer_uid", cred.UID, "err", err)
		// Not a byte is read from a refused peer: it hears why and is gone.
		c.SetTimeout(100 * time.Millisecond)
		c.Send(wire.TypeAbort, wire.Abort{Reason: err.Error()})
		return
	}
	c.SetTimeout(requestTimeout)
	var req wire.Request
	if err := c.Expect(wire.TypeRequest, &req); err != nil {
		cs.u.log.Warn("bad control request", "err", err)
		return
	}
	keep = cs.dispatch(c, req)
}

// dispatch answers one request and reports whether c must stay open.
func (cs *controlServer) dispatch(c *wire.Conn, req wire.Request) bool {
	switch req.Op {
	case wire.OpStatus:
		if err := c.Send(wire.TypeStatus, cs.u.statusPage(req.From)); err != nil {
			cs.u.log.Warn("status reply not sent", "err", err)
		}
		return false
	case wire.OpUpgrade:
		// A replacement leaves this process serving: nothing to linger for.
		return cs.upgrade(c) && cs.u.opts.Replace == nil
	case wire.OpTakeover:
		cs.takeover(c)
		return false
	case wire.OpStop:
		return cs.stopRequest(c)
	}
	c.Send(wire.TypeResult, wire.Result{Code: wire.CodeFailed, Error: fmt.Sprintf(
		"unknown request %q (want %s, %s, %s or %s)", req.Op, wire.OpStatus, wire.OpUpgrade, wire.OpTakeover, wire.OpStop)})
	return false
}

// upgrade runs an upgrade for a client, streaming progress. On success the
// connection lingers until this process stops, so the client learns when
// the old generation is gone.
func (cs *controlServer) upgrade(c *wire.Conn) bool {
	c.SetTimeout(0) // the upgrade timeout bounds this conversation
	report := reporter{
		progress: func(p wire.Progress) { c.Send(wire.TypeProgress, p) },
		result:   func(r wire.Result) { c.Send(wire.TypeResult, r) },
	}
	_, err := cs.u.upgrade(context.Background(), report)
	return err == nil
}

// takeover hands the set to the process at the other end of c, which
// someone else started. It must say hello within requestTimeout, before
// it holds the one upgrade slot; then, like a child, be ready in time.
// The connection passes to the handoff, which keeps it on success.
func (cs *controlServer) takeover(c *wire.Conn) {
	u := cs.u
	var hello wire.Hello
	if err := c.Expect(wire.TypeHello, &hello); err != nil {
		u.log.Warn("takeover refused: no hello", "err", err)
		return
	}
	cred, err := c.PeerCred()
	pid := cred.PID
	if err != nil || pid <= 0 {
		pid = hello.PID // the platform does not say; only used to report
	}
	cs.untrack(c)
	arrive := func(context.Context) (*nextGen, error) {
		return &nextGen{conn: c, pid: pid, hello: &hello}, nil
	}
	_, err = u.handOff(context.Background(), "takeover", arrive, reporter{})
	if _, ran := errors.AsType[*UpgradeError](err); err != nil && !ran {
		// Refused before it began; a handoff that ran has told the peer.
		c.Send(wire.TypeAbort, wire.Abort{Reason: "takeover refused: " + err.Error()})
		c.Close()
	}
}
