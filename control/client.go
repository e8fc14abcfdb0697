package control

import (
	"errors"
	"fmt"
	"time"

	"github.com/handoff-go/handoff/internal/ctlsock"
	"github.com/handoff-go/handoff/internal/wire"
)

// DefaultDialTimeout bounds connecting to a control socket when
// Client.DialTimeout is zero.
const DefaultDialTimeout = 5 * time.Second

// Errors a caller can branch on with errors.Is. A failed dial also matches
// the cause from package net (syscall.ECONNREFUSED, os.ErrNotExist...).
var (
	// ErrNoServer: there is no socket at the path.
	ErrNoServer = errors.New("control: no control socket")
	// ErrStaleSocket: a socket file nobody answers on, left by a server
	// that is gone.
	ErrStaleSocket = errors.New("control: stale control socket")
	// ErrNotAllowed: this user may not connect to the socket.
	ErrNotAllowed = errors.New("control: not allowed to connect")
	// ErrHungUp: the server closed the connection.
	ErrHungUp = errors.New("control: the server hung up")
)

// RefusedError is a server turning a connection away instead of answering
// (too many control connections, or another user's client).
type RefusedError struct {
	Reason string
}

func (e *RefusedError) Error() string { return "server refused: " + e.Reason }

// Client talks to the server whose control socket is at Path. The zero
// DialTimeout means DefaultDialTimeout.
type Client struct {
	Path        string
	DialTimeout time.Duration
}

// maxStatusPages bounds how many pages Status asks for: a set that keeps
// changing under it must not keep it asking for ever.
const maxStatusPages = 1000

// Status asks the server for its status. A server with more listeners
// than fit in one answer sends them in pages; Status fetches them all.
func (cl Client) Status() (Status, error) {
	st, err := cl.statusPage(0)
	for page := 1; err == nil && len(st.Listeners) < st.ListenersTotal; page++ {
		var more Status
		more, err = cl.statusPage(len(st.Listeners))
		if err == nil && (len(more.Listeners) == 0 || page >= maxStatusPages) {
			err = fmt.Errorf("control: status from %s: listed %d of %d listeners, then no more", cl.Path,
				len(st.Listeners), st.ListenersTotal)
		}
		st.Listeners = append(st.Listeners, more.Listeners...)
	}
	return st, err
}

func (cl Client) statusPage(from int) (Status, error) {
	var st Status
	c, err := cl.dial(wire.Request{Op: wire.OpStatus, From: from})
	if err != nil {
		return st, err
	}
	defer c.Close()
	if err := c.Expect(wire.TypeStatus, &st); err != nil {
		return st, fmt.Errorf("control: status from %s: %w", cl.Path, explain(err))
	}
	return st, nil
}

// Upgrade asks the server to upgrade. The returned Call reads the
// progress and the Result; the caller closes it.
func (cl Client) Upgrade() (*Call, error) { return cl.call(wire.OpUpgrade) }

// Stop asks the serving generation to drain and exit; it answers at once
// (a Result naming its pid) and hangs up when it has stopped. A server
// that is briefly not serving (starting, upgrading) answers why not: ask
// again. The caller closes the Call.
func (cl Client) Stop() (*Call, error) { return cl.call(wire.OpStop) }

func (cl Client) call(op string) (*Call, error) {
	c, err := cl.dial(wire.Request{Op: op})
	if err != nil {
		return nil, err
	}
	return &Call{c: c, path: cl.Path, op: op}, nil
}

// dial connects and sends req: the one way every request starts.
func (cl Client) dial(req wire.Request) (*wire.Conn, error) {
	timeout := cl.DialTimeout
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	c, err := ctlsock.Dial(cl.Path, timeout)
	if err != nil {
		return nil, dialFailed(err)
	}
	if err := ctlsock.Send(c, req); err != nil {
		c.Close()
		return nil, fmt.Errorf("control: send %s request to %s: %w", req.Op, cl.Path, explain(err))
	}
	return c, nil
}

// Call is one upgrade or stop request in flight. Its methods are for one
// goroutine, but Close may be called from another to end a blocked read.
type Call struct {
	c    *wire.Conn
	path string
	op   string
}

// SetDeadline bounds every later read; the zero time removes the bound.
func (r *Call) SetDeadline(t time.Time) { r.c.SetDeadline(t) }

// Result reads the server's answer. Each Progress before it goes to
// progress; with a nil progress, a Progress is an error (a stop has none).
func (r *Call) Result(progress func(Progress)) (Result, error) {
	for {
		m, err := r.c.Recv()
		if err != nil {
			return Result{}, fmt.Errorf("control: %s request to %s: no answer: %w", r.op, r.path, explain(err))
		}
		switch {
		case m.Type == wire.TypeProgress && progress != nil:
			var p Progress
			if err := m.Decode(&p); err != nil {
				return Result{}, err
			}
			progress(p)
		case m.Type == wire.TypeResult:
			var res Result
			return res, m.Decode(&res)
		case m.Type == wire.TypeAbort:
			var a wire.Abort
			m.Decode(&a)
			return Result{}, &RefusedError{Reason: a.Reason}
		default:
			return Result{}, fmt.Errorf("control: %s request to %s: %w: %s", r.op, r.path, wire.ErrUnexpected, m.Type)
		}
	}
}

// WaitHangUp waits, after a granted request, for the server to close the
// connection, which it does when the process that answered has stopped.
// It returns nil then, an error matching os.ErrDeadlineExceeded at the
// deadline, or why it lost track.
func (r *Call) WaitHangUp() error {
	m, err := r.c.Recv()
	switch {
	case errors.Is(err, wire.ErrClosed):
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("control: %w after the result: %s", wire.ErrUnexpected, m.Type)
}

// Close hangs up.
func (r *Call) Close() error { return r.c.Close() }

// dialFailed names a failed dial by the sentinel that says what to do.
func dialFailed(err error) error {
	de, ok := errors.AsType[*ctlsock.DialError](err)
	if !ok {
		return err
	}
	kind := map[ctlsock.Failure]error{ctlsock.NoSocket: ErrNoServer, ctlsock.Stale: ErrStaleSocket,
		ctlsock.NotAllowed: ErrNotAllowed}[de.Failure]
	if kind == nil {
		return err
	}
	return &classified{kind: kind, err: err}
}

// explain turns what the wire says into this package's errors: an Abort
// is a refusal, a closed connection a hang-up.
func explain(err error) error {
	if ae, ok := errors.AsType[*wire.AbortError](err); ok {
		return &RefusedError{Reason: ae.Reason}
	}
	if errors.Is(err, wire.ErrClosed) {
		return &classified{kind: ErrHungUp, err: err}
	}
	return err
}

// classified is an error that matches one of the sentinels besides its
// cause, and reads as the cause.
type classified struct{ kind, err error }

func (e *classified) Error() string   { return e.err.Error() }
func (e *classified) Unwrap() []error { return []error{e.kind, e.err} }
