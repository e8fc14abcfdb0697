package upgrader

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/handoff-go/handoff/control"
	"github.com/handoff-go/handoff/internal/ctlsock"
	"github.com/handoff-go/handoff/internal/inbox"
	"github.com/handoff-go/handoff/internal/runhooks"
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
	ln, err := u.set.Listen(runhooks.ControlName, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("upgrader: control socket: %w", err)
	}
	if !u.set.Inherited(runhooks.ControlName) {
		if err := restrictSocketFile(path); err != nil {
			ln.Close()
			return nil, fmt.Errorf("upgrader: control socket %s: %w", path, err)
		}
	}
	if ib, err := inbox.New(runhooks.ControlName, ln); err == nil {
		ln = ib // so that probation can pause it
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

// setPaused stops or restarts taking control connections (see
// pauseAccepting).
func (cs *controlServer) setPaused(paused bool) {
	ib, ok := cs.listener().(*inbox.Inbox)
	switch {
	case !ok:
	case paused:
		ib.Pause()
	default:
		ib.Resume()
	}
}

func (cs *controlServer) listener() net.Listener {
	if cs == nil {
		return nil
	}
	return cs.ln
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
	if !cs.wanted(c, raw, req) {
		return
	}
	keep = cs.dispatch(c, raw, req)
}

// wanted reports whether a request that acts is still wanted: its client
// may have given up before this process could read it (out of fds, the
// connection waited in the backlog), and must not learn of an upgrade or
// a stop it was told nothing about. A client that asked for a receipt is
// sent one first, so that if it withdraws from now on, this check sees it
// (PROTOCOL.md §8). A takeover is checked in admit, after its Hello.
func (cs *controlServer) wanted(c *wire.Conn, raw *net.UnixConn, req wire.Request) bool {
	if req.Op != wire.OpUpgrade && req.Op != wire.OpStop {
		return true
	}
	if req.Ack && c.Send(wire.TypeProgress, control.Progress{Event: wire.EventReceived, PID: cs.u.pid}) != nil {
		cs.u.log.Warn("control request dropped: its client has gone", "op", req.Op)
		return false
	}
	if ctlsock.PeerGone(raw) {
		cs.u.log.Warn("control request dropped: its client gave up waiting and has gone", "op", req.Op)
		return false
	}
	return true
}

// dispatch answers one request and reports whether c must stay open.
func (cs *controlServer) dispatch(c *wire.Conn, raw *net.UnixConn, req wire.Request) bool {
	switch req.Op {
	case wire.OpStatus:
		if err := c.Send(wire.TypeStatus, cs.u.statusPage(req.From)); err != nil {
			cs.u.log.Warn("status reply not sent", "err", err)
		}
		return false
	case wire.OpUpgrade:
		// A replacement leaves this process serving: nothing to linger for.
		return cs.upgrade(c) && cs.u.opts.hooks.Replace == nil
	case wire.OpTakeover:
		cs.admit(c, raw)
		return false
	case wire.OpStop:
		return cs.stop(c)
	}
	c.Send(wire.TypeResult, control.Result{Code: control.CodeFailed, Error: fmt.Sprintf(
		"unknown request %q (want %s, %s, %s or %s)", req.Op, wire.OpStatus, wire.OpUpgrade, wire.OpTakeover, wire.OpStop)})
	return false
}

// upgrade runs an upgrade for a client, streaming progress. On success the
// connection lingers until this process stops, so the client learns when
// the old generation is gone.
func (cs *controlServer) upgrade(c *wire.Conn) bool {
	c.SetTimeout(0) // the upgrade timeout bounds this conversation
	report := reporter{
		progress: func(p control.Progress) { c.Send(wire.TypeProgress, p) },
		result:   func(r control.Result) { c.Send(wire.TypeResult, r) },
	}
	_, err := cs.u.upgrade(context.Background(), report)
	return err == nil
}

// admit hands the set to the process at the other end of c, which
// someone else started (see admitTakeover). Once admitted, c belongs to
// the upgrade, which keeps it on success. A process that gave up waiting
// (this one could not accept it in time) has gone: its takeover is not
// begun.
func (cs *controlServer) admit(c *wire.Conn, raw *net.UnixConn) {
	n, err := cs.u.admitTakeover(c)
	if err != nil {
		cs.u.log.Warn("takeover refused", "err", err)
		return
	}
	if ctlsock.PeerGone(raw) {
		cs.u.log.Warn("takeover dropped: the process that asked gave up waiting and has gone", "pid", n.pid)
		return
	}
	cs.untrack(c)
	cs.u.upgradeToDialer(n)
}

// stop answers a stop request (`handoff stop`): this process, if it
// serves, refuses every later upgrade, answers Result{OK, PID} and closes
// Exit, so that the application drains and calls Stop. The connection
// lingers until then (Stop closes it), so the client learns on EOF that
// this process is gone. A client cannot find the serving process from the
// socket itself: SO_PEERCRED names whoever called listen(), the first
// generation, since the listening socket is handed on.
//
// A process that does not serve (not ready yet, upgrading, handed over,
// stopping) answers Result{Error} and carries on; every such state is
// brief, so the client asks again.
func (cs *controlServer) stop(c *wire.Conn) bool {
	u := cs.u
	u.mu.Lock()
	err := u.acceptStopLocked()
	u.mu.Unlock()
	if err != nil {
		u.log.Info("stop request refused", "err", err)
		c.Send(wire.TypeResult, control.Result{PID: u.pid, Code: resultCode(err), Error: err.Error()})
		return false
	}
	u.log.Info("stop requested over the control socket")
	c.SetTimeout(0) // nothing more is read; Stop hangs up
	c.Send(wire.TypeResult, control.Result{OK: true, PID: u.pid})
	u.closeExit(ExitStopRequested)
	return true
}
