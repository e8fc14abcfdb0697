package httpdrain

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// errIdleClosed is what the http.Server's read sees when the drain closes an
// idle connection; it only makes the server forget the connection.
var errIdleClosed = errors.New("httpdrain: idle connection closed by drain")

// aLongTimeAgo makes a blocked Read return at once.
var aLongTimeAgo = time.Unix(1, 0)

// listener counts connections where they are born: the http.Server learns
// about an accepted connection only once its Serve loop moves on, too late
// for a drain that has just closed the listener.
type listener struct {
	net.Listener
	s        *Server
	plain    bool // not TLS: its connections may move
	canMove  bool // plain, and the Mover takes its connections; set when the drain starts
	once     sync.Once
	closeErr error
}

func (l *listener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := &conn{Conn: nc, s: l.s, ln: l, state: http.StateNew, idleSince: time.Now()}
	if m, ok := nc.(interface{ Moved() bool }); ok && m.Moved() {
		c.awaitingFirst = true // an idle keep-alive connection, not a new one
		c.reads.moved = true
	}
	l.s.mu.Lock()
	l.s.conns[c] = struct{}{}
	l.s.mu.Unlock()
	return c, nil
}

// Close closes this process's descriptor once; both the drain and the
// http.Server close it.
func (l *listener) Close() error {
	l.once.Do(func() { l.closeErr = l.Listener.Close() })
	return l.closeErr
}

// conn is an accepted connection as the http.Server sees it. Besides
// counting, it is how an idle connection gets closed without racing the
// server's reader: the drain never closes it directly, it sets a read
// deadline in the past (a "kick"), and the reader goroutine itself decides,
// in Read, whether the connection is really idle and closes it then.
type conn struct {
	net.Conn
	s             *Server
	ln            *listener
	closeOnce     sync.Once
	closeErr      error
	readSinceIdle atomic.Bool   // bytes arrived since the state went idle
	protoKnown    atomic.Bool   // h2 is settled; touched by ConnState only
	h2            atomic.Bool   // HTTP/2: drained by GOAWAY, never kicked; set under Server.mu
	kicks         atomic.Uint32 // lets a Read tell a kick undone meanwhile from its own timeout
	notHTTP1      atomic.Bool   // began with the HTTP/2 preface (h2c): never moved
	moveFailed    atomic.Bool   // a Move of c failed: its socket may linger in a failed receiver's queue
	reads         readShape     // what the reader asked for; touched by the reader goroutine only

	mu           sync.Mutex
	state        http.ConnState
	idleSince    time.Time
	kicked       bool      // read deadline forced into the past by the drain
	kickToMove   bool      // the pending kick is to move c, not to close it
	moveTried    bool      // a move was considered since c last went idle
	readDeadline time.Time // the deadline the server asked for
	// awaitingFirst: c was moved here idle and has sent nothing since, so
	// the server's deadline for its first request (ReadHeaderTimeout or
	// ReadTimeout) starts at its first byte, as it does on a keep-alive
	// connection, and IdleTimeout bounds the wait until then.
	awaitingFirst bool
	headerFor     time.Duration // what the server's first deadline allows, counted from the first byte
	idleUntil     time.Time     // the idle deadline applied meanwhile
}

// Close closes the connection and stops counting it, once.
func (c *conn) Close() error {
	c.closeOnce.Do(func() {
		if c.moveFailed.Load() {
			// A next process that failed mid-move may still hold a
			// reference it will never serve (fds queued unread on its
			// control socket): send FIN ourselves rather than leave the
			// client with a socket that only looks open.
			c.CloseWrite()
		}
		c.closeErr = c.Conn.Close()
		c.s.forget(c)
	})
	return c.closeErr
}

// NetConn returns the connection the listener accepted.
func (c *conn) NetConn() net.Conn { return c.Conn }

// CloseWrite keeps http.Server's half-close (sent before it closes a
// connection whose request it did not fully read) working through the
// wrapper.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// ReadFrom keeps sendfile and splice available to http.Server responses.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

func (c *conn) Read(p []byte) (int, error) {
	for {
		kicks := c.kicks.Load()
		c.reads.asked(len(p))
		n, err := c.Conn.Read(p)
		if n > 0 {
			c.readSinceIdle.Store(true)
			if c.reads.got(p[:n]) {
				c.notHTTP1.Store(true)
			}
			if c.reads.moved {
				c.reads.moved = false
				c.firstBytes()
			}
		}
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		n, next, err := c.afterTimeout(p, err, kicks)
		switch next {
		case kickMove:
			if c.s.move(c) {
				// The next process holds the socket: stop counting c now and
				// unwind (EOF writes nothing) after the drain, so that many
				// readers unwinding at once do not delay the drain's end.
				c.Close()
				<-c.s.done
				return 0, io.EOF
			}
		case kickReturn:
			return n, err
		}
	}
}

// afterTimeout sorts a read timeout into the server's own deadline
// (returned as is), a stale kick (retry), or a kick of a connection the
// server is waiting on: hand over bytes already queued in the socket, else
// close it. Closing here, on the reader goroutine, means no request bytes
// can have been taken off the socket without the drain knowing.
func (c *conn) afterTimeout(p []byte, err error, kicks uint32) (n int, next afterKick, _ error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.kicked {
		dl := c.appliedLocked()
		own := !dl.IsZero() && !time.Now().Before(dl)
		if !own && c.kicks.Load() != kicks {
			return 0, kickRetry, err
		}
		return 0, kickReturn, err
	}
	c.kicked = false
	c.Conn.SetReadDeadline(c.appliedLocked())
	if !c.idleLocked() {
		return 0, kickRetry, nil
	}
	if c.kickToMove {
		c.kickToMove = false
		if c.reads.holdsNothing(len(p)) && !c.notHTTP1.Load() {
			return 0, kickMove, nil
		}
		return 0, kickRetry, nil // the server holds some of its bytes: drained as before
	}
	n, werr := readWaiting(c.Conn, p)
	switch {
	case n > 0:
		c.readSinceIdle.Store(true)
		return n, kickReturn, nil
	case werr == io.EOF:
		return 0, kickReturn, io.EOF
	}
	c.Close()
	return 0, kickReturn, errIdleClosed
}

// afterKick says what Read does after a timeout.
type afterKick int

const (
	kickReturn afterKick = iota // return what afterTimeout returned
	kickRetry                   // read again
	kickMove                    // move c; read again if that failed
)

// idleLocked reports whether the server is between requests on c and has
// not yet started reading the next one.
func (c *conn) idleLocked() bool {
	return (c.state == http.StateNew || c.state == http.StateIdle) &&
		!c.readSinceIdle.Load() && !c.h2.Load()
}

func (c *conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

// SetReadDeadline remembers t and applies it unless a kick is pending,
// which must win over the deadline the server sets when it goes idle.
func (c *conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readDeadline = t
	if c.awaitingFirst {
		c.headerFor = 0
		if !t.IsZero() {
			c.headerFor = time.Until(t)
		}
		c.idleUntil = c.s.idleDeadline()
	}
	if c.kicked {
		return nil
	}
	return c.Conn.SetReadDeadline(c.appliedLocked())
}

// appliedLocked is the read deadline c should have while not kicked.
func (c *conn) appliedLocked() time.Time {
	if c.awaitingFirst {
		return c.idleUntil
	}
	return c.readDeadline
}

// firstBytes ends the keep-alive wait of a moved connection: the server's
// own deadline now runs, from this first byte.
func (c *conn) firstBytes() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.awaitingFirst {
		return
	}
	c.awaitingFirst = false
	if c.headerFor > 0 {
		c.readDeadline = time.Now().Add(c.headerFor)
	}
	if !c.kicked {
		c.Conn.SetReadDeadline(c.readDeadline)
	}
}

// kickIfIdle kicks c if it has been idle for grace, counted from since at
// the earliest. Otherwise it returns when c will be due, or the zero time
// if c is not idle (a state change will tell the drain when it is).
func (c *conn) kickIfIdle(now, since time.Time, grace time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kicked || !c.idleLocked() {
		return time.Time{}
	}
	if c.kickToMoveLocked() {
		return time.Time{}
	}
	if c.idleSince.After(since) {
		since = c.idleSince
	}
	if due := since.Add(grace); now.Before(due) {
		return due
	}
	c.kickLocked()
	return time.Time{}
}

// kickToMoveIfIdle kicks c to move it if it may, reporting whether it did.
// ConnState calls it as c goes idle during a drain, on c's reader
// goroutine just before it waits for the next request: the move follows at
// once instead of at the next sweep.
func (c *conn) kickToMoveIfIdle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.kicked && c.idleLocked() && c.kickToMoveLocked()
}

// kickToMoveLocked kicks c, which is idle and not kicked, to move it,
// once per idle period, if it may move.
func (c *conn) kickToMoveLocked() bool {
	if c.moveTried || !c.s.movable(c) {
		return false
	}
	c.moveTried = true
	c.kickToMove = true
	c.kickLocked()
	return true
}

// kickLocked wakes the reader: its Read returns, and afterTimeout decides.
func (c *conn) kickLocked() {
	c.kicked = true
	c.kicks.Add(1)
	c.Conn.SetReadDeadline(aLongTimeAgo)
}

func (c *conn) hijacked() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == http.StateHijacked
}

func (c *conn) setState(st http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state = st
	switch st {
	case http.StateIdle:
		c.idleSince = time.Now()
		c.readSinceIdle.Store(false)
		c.moveTried = false
	case http.StateActive, http.StateHijacked:
		if c.kicked {
			c.kicked, c.kickToMove = false, false
			c.Conn.SetReadDeadline(c.appliedLocked())
		}
	}
}

// connState is the http.Server's ConnState hook.
func (s *Server) connState(nc net.Conn, st http.ConnState) {
	if c := asConn(nc); c != nil {
		// A hijacked conn stays counted until it is closed or passed to
		// Track: the http.Server forgets it, the drain must not.
		c.setState(st)
		if st == http.StateActive || st == http.StateIdle {
			s.noteProtocol(c, nc)
		}
		if st == http.StateIdle && s.draining.Load() && !c.kickToMoveIfIdle() {
			signal(s.wentIdle)
		}
	}
	if s.userState != nil {
		s.userState(nc, st)
	}
}

// asConn finds our wrapper under what the http.Server reports, which is a
// *tls.Conn around it for ServeTLS.
func asConn(nc net.Conn) *conn {
	for {
		switch v := nc.(type) {
		case *conn:
			return v
		case interface{ NetConn() net.Conn }:
			nc = v.NetConn()
		default:
			return nil
		}
	}
}

// noteProtocol finds out, once per connection, whether the http.Server
// handed c to its HTTP/2 server: on HTTP/2 "idle" says nothing about what
// the reader is doing, so those connections are drained with GOAWAY.
func (s *Server) noteProtocol(c *conn, nc net.Conn) {
	if c.protoKnown.Swap(true) {
		return
	}
	tc, ok := nc.(*tls.Conn)
	if !ok || tc.ConnectionState().NegotiatedProtocol != "h2" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; ok && !c.h2.Swap(true) {
		s.h2Conns++
	}
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	s.dropLocked(c)
	s.mu.Unlock()
	signal(s.changed)
}

// dropLocked stops counting c.
func (s *Server) dropLocked(c *conn) {
	if _, ok := s.conns[c]; !ok {
		return
	}
	delete(s.conns, c)
	if c.h2.Load() {
		s.h2Conns--
	}
}

// errNoDescriptor means the receive buffer could not be inspected.
var errNoDescriptor = errors.New("httpdrain: no descriptor to read from")
