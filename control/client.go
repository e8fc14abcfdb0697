package control

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/handoff-go/handoff/internal/ctlsock"
	"github.com/handoff-go/handoff/internal/wire"
)

// Defaults for a Client's zero fields.
const (
	// DefaultDialTimeout bounds connecting to a control socket.
	DefaultDialTimeout = 5 * time.Second
	// DefaultAnswerTimeout bounds the wait for the server's first answer
	// to a request. A server out of file descriptors cannot accept the
	// connection, yet the kernel queues it and the request: past this,
	// the request is withdrawn (ErrNoAnswer).
	DefaultAnswerTimeout = 5 * time.Second
)

// withdrawGrace is how long a withdrawn request waits for the server's
// last word: that it took the request after all, or dropped it.
const withdrawGrace = time.Second

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
	// ErrNotSocket: the path is a regular file, a directory or another
	// kind of file: a wrong path rather than a server that is gone.
	ErrNotSocket = errors.New("control: not a socket")
	// ErrPathTooLong: no Unix socket can have the path (sun_path).
	ErrPathTooLong = errors.New("control: socket path too long")
	// ErrNoAnswer: the server did not answer in time (it may be out of
	// file descriptors, or stuck). The request was withdrawn before the
	// server read it, or the server read it after that and dropped it:
	// it was not carried out.
	ErrNoAnswer = errors.New("control: no answer; the request was withdrawn and not carried out")
	// ErrOutcomeUnknown: the server received the request, then the
	// answer was lost (the connection broke, or the deadline passed):
	// the request may have been carried out. Ask for the status.
	ErrOutcomeUnknown = errors.New("control: the outcome is unknown")
)

// RefusedError is a server turning a connection away instead of answering
// (too many control connections, or another user's client).
type RefusedError struct {
	Reason string
}

func (e *RefusedError) Error() string { return "server refused: " + e.Reason }

// Client talks to the server whose control socket is at Path. The zero
// DialTimeout means DefaultDialTimeout, the zero AnswerTimeout
// DefaultAnswerTimeout.
type Client struct {
	Path          string
	DialTimeout   time.Duration
	AnswerTimeout time.Duration
}

func (cl Client) answerTimeout() time.Duration {
	if cl.AnswerTimeout <= 0 {
		return DefaultAnswerTimeout
	}
	return cl.AnswerTimeout
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
	c, _, err := cl.dial(wire.Request{Op: wire.OpStatus, From: from})
	if err != nil {
		return st, err
	}
	defer c.Close()
	c.SetTimeout(cl.answerTimeout())
	err = c.Expect(wire.TypeStatus, &st)
	if errors.Is(err, os.ErrDeadlineExceeded) { // a status changes nothing: withdrawing it is closing
		return st, &classified{kind: ErrNoAnswer, err: fmt.Errorf("control: no status from the server on %s within %v", cl.Path, cl.answerTimeout())}
	}
	if err != nil {
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
	c, raw, err := cl.dial(wire.Request{Op: op, Ack: true})
	if err != nil {
		return nil, err
	}
	r := &Call{c: c, raw: raw, path: cl.Path, op: op, answer: cl.answerTimeout()}
	r.answerBy = time.Now().Add(r.answer)
	return r, nil
}

// dial connects and sends req: the one way every request starts.
func (cl Client) dial(req wire.Request) (*wire.Conn, *net.UnixConn, error) {
	timeout := cl.DialTimeout
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	raw, err := ctlsock.DialUnix(cl.Path, timeout)
	if err != nil {
		return nil, nil, dialFailed(err)
	}
	c := wire.NewConn(raw)
	if err := ctlsock.Send(c, req); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("control: send %s request to %s: %w", req.Op, cl.Path, explain(err))
	}
	return c, raw, nil
}

// Call is one upgrade or stop request in flight. Its methods are for one
// goroutine, but Close may be called from another to end a blocked read.
//
// Until the server's first answer, reads are bounded by the Client's
// AnswerTimeout too. A server that has not answered by then has not
// begun: the Call withdraws the request (it shuts down its sending side,
// which a server sees before it acts) and Result returns ErrNoAnswer.
// Once the server has answered, a lost answer is ErrOutcomeUnknown.
type Call struct {
	c        *wire.Conn
	raw      *net.UnixConn // c's socket, to withdraw the request
	path     string
	op       string
	answer   time.Duration // the Client's AnswerTimeout
	answerBy time.Time     // when an unanswered request is withdrawn
	deadline time.Time     // SetDeadline's
	received bool          // the server has answered: it has the request
}

// SetDeadline bounds every later read; the zero time removes the bound.
func (r *Call) SetDeadline(t time.Time) {
	r.deadline = t
	r.c.SetDeadline(r.readDeadline())
}

func (r *Call) readDeadline() time.Time {
	if !r.received && (r.deadline.IsZero() || r.answerBy.Before(r.deadline)) {
		return r.answerBy
	}
	return r.deadline
}

// Result reads the server's answer. Each Progress before it goes to
// progress; with a nil progress, a Progress is an error (a stop has none).
func (r *Call) Result(progress func(Progress)) (Result, error) {
	for {
		m, err := r.next()
		if err != nil {
			return Result{}, err
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

// next reads the server's next message that is more than a receipt.
func (r *Call) next() (wire.Msg, error) {
	for {
		r.c.SetDeadline(r.readDeadline())
		m, err := r.c.Recv()
		switch {
		case err == nil:
			r.received = true
			if isReceipt(m) {
				continue
			}
			return m, nil
		case !r.received && errors.Is(err, os.ErrDeadlineExceeded):
			return r.withdraw()
		case r.received:
			return m, &classified{kind: ErrOutcomeUnknown, err: fmt.Errorf(
				"control: %s request to %s: the server received it, then: %w", r.op, r.path, explain(err))}
		}
		return m, fmt.Errorf("control: %s request to %s: no answer: %w", r.op, r.path, explain(err))
	}
}

func isReceipt(m wire.Msg) bool {
	var p wire.Progress
	return m.Type == wire.TypeProgress && m.Decode(&p) == nil && p.Event == wire.EventReceived
}

// withdraw takes back a request the server has not answered in time. A
// server that reads it from now on sees the client hang up (the sending
// side is shut down) before it acts, and drops it (PROTOCOL.md §8). One
// that got to it a moment earlier says so: its receipt, then its
// verdict, which is either the first answer (it went ahead: the Call goes
// on) or the hang-up (it dropped the request).
func (r *Call) withdraw() (wire.Msg, error) {
	r.raw.CloseWrite()
	r.c.SetDeadline(time.Now().Add(withdrawGrace))
	m, err := r.c.Recv()
	if err == nil && isReceipt(m) {
		m, err = r.c.Recv()
		if err != nil && !errors.Is(err, wire.ErrClosed) {
			return m, &classified{kind: ErrOutcomeUnknown, err: fmt.Errorf(
				"control: %s request to %s: the server received it just as it was withdrawn after %v, and did not say whether it carries it out: %w",
				r.op, r.path, r.answer, err)}
		}
	}
	if err == nil { // it went ahead
		r.received = true
		return m, nil
	}
	return m, &classified{kind: ErrNoAnswer, err: fmt.Errorf(
		"control: %s request to %s: no answer within %v; withdrawn, not carried out", r.op, r.path, r.answer)}
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
		ctlsock.NotAllowed: ErrNotAllowed, ctlsock.NotSocket: ErrNotSocket, ctlsock.TooLong: ErrPathTooLong}[de.Failure]
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
