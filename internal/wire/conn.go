package wire

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// Conn is one end of a control connection. One goroutine may send while
// another receives; two concurrent senders (or receivers) are not allowed.
// (They are serialised rather than corrupting the stream, but their frames
// would interleave in no useful order.)
//
// Conn owns the socket and every fd it has received but not yet handed to
// the caller; Close closes all of them. It never holds more than one
// batch's fds: descriptors that arrive anywhere but at the start of a
// batch that RecvFiles is waiting for end the connection at once.
type Conn struct {
	uc      *net.UnixConn
	pending pendingFDs // fds of the frame being read

	rmu       sync.Mutex // held by the receiver; guards the fields below
	fr        *frameReader
	oob       []byte
	rerr      error // a read error that left the stream out of step for good
	wantFDs   bool  // RecvFiles is waiting for a batch
	senders   bool  // SO_PASSCRED is on: reads carry the writer's credentials
	frameFrom Cred  // the writer of the frame being read
	lastFrom  Cred  // the writer of the last whole frame

	wmu sync.Mutex // held by the sender, so frames never interleave

	mu       sync.Mutex // guards the settings below
	timeout  time.Duration
	deadline time.Time
	fixed    bool // deadline, not timeout, bounds each read and write
	maxFDs   int
}

// NewConn wraps c. The Conn owns c from now on.
func NewConn(c *net.UnixConn) *Conn {
	conn := &Conn{
		uc:      c,
		oob:     make([]byte, oobSize()),
		timeout: DefaultTimeout,
		maxFDs:  DefaultMaxFDs,
	}
	conn.fr = newFrameReader(sockReader{conn})
	return conn
}

// SetMaxFrameSize lowers the largest frame body this side accepts (from
// MaxFrameSize), for servers whose peers only ever send small requests:
// it bounds what one connection can make this side buffer. Call it before
// the first Recv.
func (c *Conn) SetMaxFrameSize(n int) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.fr.limit = min(max(n, 0), MaxFrameSize)
}

// SetTimeout sets the deadline of each later read and write (DefaultTimeout
// unless set). d <= 0 means no deadline.
//
// The timeout bounds each frame, however many reads it takes, so a peer
// cannot keep a frame open by trickling bytes.
func (c *Conn) SetTimeout(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timeout, c.fixed = d, false
}

// SetDeadline overrides the per-operation timeout with an absolute deadline
// for every later read and write, until SetTimeout is called again. Used to
// bound a whole conversation (an upgrade timeout) rather than one step.
// The zero time means no deadline.
func (c *Conn) SetDeadline(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline, c.fixed = t, true
}

// WakeReader makes a read blocked in Recv or Expect return at once with a
// deadline error (os.ErrDeadlineExceeded); the stream stays in step, as
// after any deadline. A read that starts after the call is not affected:
// it sets its own deadline.
func (c *Conn) WakeReader() {
	c.uc.SetReadDeadline(time.Unix(1, 0))
}

// SetMaxFDs sets how many fds RecvFiles accepts in one handoff (and
// SendFiles sends). n < 0 counts as 0.
func (c *Conn) SetMaxFDs(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.maxFDs = max(n, 0)
}

func (c *Conn) limitFDs() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxFDs
}

// opDeadline is the deadline for an operation that starts now.
func (c *Conn) opDeadline() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.fixed:
		return c.deadline
	case c.timeout <= 0:
		return time.Time{}
	}
	return time.Now().Add(c.timeout)
}

// Send writes one frame of type t whose body is v encoded as JSON.
func (c *Conn) Send(t Type, v any) error {
	if err := c.send(t, v); err != nil {
		return fmt.Errorf("wire: send %s: %w", t, err)
	}
	return nil
}

func (c *Conn) send(t Type, v any) error {
	frame, err := encodeFrame(t, v)
	if err != nil {
		return err
	}
	return c.write(frame, nil)
}

// write writes one whole frame, with fds attached to its first byte.
func (c *Conn) write(frame []byte, fds []int) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.uc.SetWriteDeadline(c.opDeadline()); err != nil {
		return err
	}
	err := writeMsg(c.uc, frame, fds)
	if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

// abort tells the peer why this side gives up, so that it can report more
// than a hang-up. Best effort: the error being reported matters more.
func (c *Conn) abort(reason error) {
	_ = c.send(TypeAbort, Abort{Reason: reason.Error()})
}

// Recv reads the next frame. A frame that arrives with fds attached but is
// not a Batch is an error, and those fds are closed. So is a Batch with
// fds: only RecvFiles hands fds out.
func (c *Conn) Recv() (Msg, error) {
	m, err := c.recvPlain()
	if err != nil {
		return Msg{}, fmt.Errorf("wire: recv: %w", err)
	}
	return m, nil
}

// Expect reads the next frame, checks that it has type t and decodes it into
// v (unless v is nil). An Abort from the peer is returned as *AbortError;
// any other type is ErrUnexpected.
func (c *Conn) Expect(t Type, v any) error {
	m, err := c.recvPlain()
	if err != nil {
		return fmt.Errorf("wire: recv %s: %w", t, err)
	}
	return checkMsg(m, t, v)
}

// expect is Expect for steps of a larger operation, which names the step.
func (c *Conn) expect(t Type, v any) error {
	m, err := c.recvPlain()
	if err != nil {
		return err
	}
	return checkMsg(m, t, v)
}

// checkMsg checks that m has type t and decodes it into v.
func checkMsg(m Msg, t Type, v any) error {
	switch {
	case m.Type == t && v == nil:
		return nil
	case m.Type == t:
		return m.Decode(v)
	case m.Type == TypeAbort:
		return abortError(m)
	}
	return fmt.Errorf("%w: got %s, want %s", ErrUnexpected, m.Type, t)
}

func abortError(m Msg) *AbortError {
	var a Abort
	if err := m.Decode(&a); err != nil {
		return &AbortError{Reason: fmt.Sprintf("(unreadable reason: %v)", err)}
	}
	return &AbortError{Reason: a.Reason}
}

// recvPlain reads a frame that must come without fds.
func (c *Conn) recvPlain() (Msg, error) {
	m, fds, err := c.recv(false)
	if err != nil {
		return Msg{}, err
	}
	if len(fds) > 0 { // admitFDs refuses them first; this is the backstop
		closeFDs(fds)
		return Msg{}, strayFDs(m.Type, len(fds))
	}
	return m, nil
}

func strayFDs(t Type, n int) error {
	if t == TypeBatch {
		return fmt.Errorf("%w: batch with %d fds outside RecvFiles (fds closed)", ErrUnexpected, n)
	}
	return fmt.Errorf("%s frame carried %d fds, which only a batch may (fds closed): %w",
		t, n, ErrFDMismatch)
}

// recv reads one frame and takes the fds that came with it, which the
// caller then owns. Only when batch is set may fds come at all.
func (c *Conn) recv(batch bool) (Msg, []int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.wantFDs = batch
	defer func() { c.wantFDs = false }()
	if c.rerr != nil {
		return Msg{}, nil, fmt.Errorf("stream unusable after an earlier error: %w", c.rerr)
	}
	if err := c.uc.SetReadDeadline(c.opDeadline()); err != nil {
		return Msg{}, nil, err
	}
	m, err := c.fr.next()
	if err != nil {
		c.readFailed(err)
		return Msg{}, nil, err
	}
	c.lastFrom = c.frameFrom
	return m, c.pending.take(), nil
}

// readFailed makes a read error final, unless it was a deadline: then the
// frameReader still holds any partial frame and the stream is in step.
// A peer speaking another version is told so before the stream is given up.
func (c *Conn) readFailed(err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return
	}
	c.rerr = err
	c.pending.drop()
	if _, ok := errors.AsType[*VersionError](err); ok {
		c.abort(err)
	}
}

// sockReader feeds a Conn's frameReader from the socket. It runs with rmu
// held, and enforces where descriptors may arrive: only on the first read
// of a frame, only while RecvFiles waits for a batch, and at most one
// batch's worth (the out-of-band buffer holds no more).
type sockReader struct{ c *Conn }

func (s sockReader) Read(p []byte) (int, error) {
	c := s.c
	start := c.fr.pos() == 0
	n, fds, from, err := readMsg(c.uc, p, c.oob)
	if errors.Is(err, syscall.ECONNRESET) {
		// The peer closed with our bytes unread: as much a hang-up as EOF.
		err = fmt.Errorf("%w: %w", ErrClosed, err)
	}
	if len(fds) > 0 {
		if ferr := c.admitFDs(fds, start); ferr != nil {
			return n, ferr
		}
	}
	if c.senders && n > 0 {
		if start {
			c.frameFrom = from
		} else if from != c.frameFrom {
			return n, fmt.Errorf("%w: one frame written by two processes (pids %d and %d)",
				ErrMalformed, c.frameFrom.PID, from.PID)
		}
	}
	return n, err
}

// admitFDs queues fds that a read brought, or closes them and says why
// they were not wanted.
func (c *Conn) admitFDs(fds []int, start bool) error {
	switch {
	case !c.wantFDs:
		closeFDs(fds)
		return fmt.Errorf("%w: %d fds arrived while no batch was expected (fds closed)", ErrUnexpected, len(fds))
	case !start || !c.pending.empty():
		closeFDs(fds)
		return fmt.Errorf("%d fds arrived inside a frame, not at its start (fds closed): %w", len(fds), ErrFDMismatch)
	}
	c.pending.set(fds)
	return nil
}

// TrackSenders makes every later frame carry the credentials of the process
// that wrote it, as the kernel vouches for them (SO_PASSCRED), so that
// LastSender can tell who is really speaking; SO_PEERCRED only says who
// created the socket's far end, which for a listening socket handed on
// between processes is the process that first listened. Call it before
// the peer writes. Platforms without it return an error wrapping
// errors.ErrUnsupported.
func (c *Conn) TrackSenders() error {
	if err := withFD(c.uc, passCred); err != nil {
		return fmt.Errorf("wire: track senders: %w", err)
	}
	c.rmu.Lock()
	c.senders = true
	c.rmu.Unlock()
	return nil
}

// LastSender reports who wrote the last frame received; ok is false unless
// TrackSenders is on.
func (c *Conn) LastSender() (cred Cred, ok bool) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.lastFrom, c.senders && c.lastFrom.PID > 0
}

// Refusal explains a failed send: a peer that refuses a connection sends
// an Abort and hangs up without reading, so our write can fail with EPIPE
// while the reason waits unread. It returns that reason as *AbortError,
// or err when there is none.
func (c *Conn) Refusal(err error) error {
	if !errors.Is(err, ErrClosed) {
		return err
	}
	c.SetDeadline(time.Now().Add(refusalWait))
	m, rerr := c.recvPlain()
	if rerr == nil && m.Type == TypeAbort {
		return abortError(m)
	}
	return err
}

// refusalWait bounds how long Refusal looks for the reason: it is already
// in the socket when there is one.
const refusalWait = 500 * time.Millisecond

// PeerCred reports who is at the other end: the credentials the peer had
// when the connection was made. Platforms without a way to ask return an
// error wrapping errors.ErrUnsupported.
func (c *Conn) PeerCred() (Cred, error) {
	cred, err := peerCred(c.uc)
	if err != nil {
		return Cred{}, fmt.Errorf("wire: peer credentials: %w", err)
	}
	return cred, nil
}

// Close closes the socket and every fd received but not handed out. It
// may be called while another goroutine is blocked in Recv or RecvFiles,
// which then return an error.
func (c *Conn) Close() error {
	err := c.uc.Close()
	c.pending.close()
	if err != nil {
		return fmt.Errorf("wire: close: %w", err)
	}
	return nil
}
