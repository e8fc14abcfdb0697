package upgrader

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/handoff-go/handoff/internal/wire"
)

// Control operations a client may request on the control socket.
const (
	OpStatus   = "status"
	OpUpgrade  = "upgrade"
	OpTakeover = "takeover"
	OpStop     = "stop" // see stop.go
)

// controlServer answers on the control socket. Its methods are nil-safe:
// without Options.ControlPath there is none.
type controlServer struct {
	u  *Upgrader
	ln net.Listener

	mu     sync.Mutex
	conns  map[*wire.Conn]struct{} // open requests and lingering upgrade clients
	closed bool
}

// openControl binds (or claims the inherited) control socket at path. It
// accepts nothing until serve is called: a client that dials before then
// waits in the backlog.
func (u *Upgrader) openControl(path string) (*controlServer, error) {
	ln, err := u.set.Listen(controlName, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("upgrader: control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("upgrader: control socket: %w", err)
	}
	return &controlServer{u: u, ln: ln, conns: map[*wire.Conn]struct{}{}}, nil
}

func (cs *controlServer) serve() {
	for {
		raw, err := cs.ln.Accept()
		if err != nil {
			return // closed at handover or stop
		}
		go cs.handle(raw.(*net.UnixConn))
	}
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
	if !cs.track(c) {
		c.Close()
		return
	}
	linger := false
	defer func() {
		if !linger {
			cs.release(c)
		}
	}()
	if err := cs.authorize(c); err != nil {
		cs.u.log.Warn("control connection refused", "err", err)
		refuse(c, err.Error())
		return
	}
	var req wire.Request
	if err := c.Expect(wire.TypeRequest, &req); err != nil {
		cs.u.log.Warn("bad control request", "err", err)
		return
	}
	switch req.Op {
	case OpStatus:
		c.Send(wire.TypeStatus, cs.u.Status())
	case OpUpgrade:
		linger = cs.upgrade(c)
	case OpTakeover:
		linger = cs.takeover(c, raw)
	case OpStop:
		linger = cs.stopRequest(c)
	default:
		c.Send(wire.TypeResult, wire.Result{Error: fmt.Sprintf("unknown request %q (want %s, %s, %s or %s)",
			req.Op, OpStatus, OpUpgrade, OpTakeover, OpStop)})
	}
}

// authorize admits the same uid as this process, and root.
func (cs *controlServer) authorize(c *wire.Conn) error {
	cred, err := c.PeerCred()
	if errors.Is(err, errors.ErrUnsupported) {
		return nil // the socket file's mode 0600 is the only guard here
	}
	if err != nil {
		return fmt.Errorf("peer credentials: %w", err)
	}
	if uid := os.Getuid(); cred.UID != uid && cred.UID != 0 {
		return fmt.Errorf("permission denied: peer pid %d runs as uid %d; only uid %d or root may control this process",
			cred.PID, cred.UID, uid)
	}
	return nil
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
// someone else started. Like a child, it must be ready in time.
func (cs *controlServer) takeover(c *wire.Conn, raw *net.UnixConn) bool {
	u := cs.u
	ctx, cancel := context.WithTimeout(context.Background(), u.opts.UpgradeTimeout)
	defer cancel()
	draining, err := u.begin("takeover", cancel)
	if err != nil {
		refuse(c, "takeover refused: "+err.Error())
		return false
	}
	pid, err := u.handOverTakeover(ctx, c, raw, draining)
	if err != nil {
		c.Send(wire.TypeAbort, wire.Abort{Reason: err.Error()})
		u.do(func(s *state) { s.endUpgrade(u, pid, nil, err) })
		return false
	}
	// The new process holds the other end: it learns we are gone when
	// this connection closes, which release does at Stop.
	u.do(func(s *state) {
		s.endUpgrade(u, pid, nil, nil)
		s.closeExit(u)
	})
	return true
}

func (u *Upgrader) handOverTakeover(ctx context.Context, c *wire.Conn, raw net.Conn, draining []Peer) (int, error) {
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d.Add(backstop))
	}
	wd := startWatchdog(ctx, raw, nil)
	pid, uerr := u.handOver(c, draining, reporter{})
	cause := wd.finish()
	if uerr == nil {
		return pid, nil
	}
	if cause != nil {
		uerr.Err = cause
	}
	return pid, uerr
}

// lingerAfterAbort bounds how long refuse waits for the peer to hang up.
const lingerAfterAbort = time.Second

// refuse sends an Abort with reason, then reads until the peer hangs up
// (briefly): closing at once could make the peer's next write fail with
// EPIPE before it ever reads the reason.
func refuse(c *wire.Conn, reason string) {
	if c.Send(wire.TypeAbort, wire.Abort{Reason: reason}) != nil {
		return
	}
	c.SetDeadline(time.Now().Add(lingerAfterAbort))
	for {
		if _, err := c.Recv(); err != nil {
			return
		}
	}
}
