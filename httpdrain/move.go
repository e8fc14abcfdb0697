package httpdrain

import (
	"net"
)

// Mover carries an idle connection's socket to the process that serves
// next (the next generation of a zero-downtime restart), which then
// serves it as if it had just accepted it. The package upgrader provides
// one (Upgrader.ConnMover); any other code that can pass a socket on may
// implement it.
type Mover interface {
	// CanMove reports whether connections accepted from ln can move now:
	// a next process that takes them holds ln's socket. Drain asks once,
	// when it starts.
	CanMove(ln net.Listener) bool
	// Move passes the socket of c, accepted from ln, to that process. It
	// returns nil only once that process holds the socket: the caller
	// then closes its own descriptor and forgets c. On error the caller
	// keeps serving c as if Move had not been called. Move must not read,
	// write, shut down or close c, and must return within a bounded time;
	// it is called from c's reader goroutine, many at once.
	Move(ln net.Listener, c net.Conn) error
}

// httpReadBuffer is the size of the bufio.Reader through which net/http
// reads requests. A Read asking for this much, and no less than any Read
// before it on the same connection, comes from a reader holding none of
// the connection's bytes.
const httpReadBuffer = 4 << 10

// readShape records the buffers the http.Server reads a connection into,
// which tells whether its reader holds any of the connection's bytes, and
// the first bytes read, which tell HTTP/1 from HTTP/2 without TLS. Only
// the connection's reader goroutine touches it.
type readShape struct {
	moved      bool // came moved and nothing read yet
	last, most int
	head       [4]byte
	headN      int
}

func (r *readShape) asked(n int) {
	r.last = n
	r.most = max(r.most, n)
}

// got records bytes read and reports whether they begin a connection with
// the HTTP/2 preface ("PRI * HTTP/2.0...").
func (r *readShape) got(p []byte) (h2 bool) {
	if r.headN == len(r.head) {
		return false
	}
	r.headN += copy(r.head[r.headN:], p)
	return r.headN == len(r.head) && string(r.head[:]) == "PRI "
}

// holdsNothing reports whether a Read that asked for n bytes came from a
// reader that holds none of the connection's bytes: nothing read yet, or
// net/http's full buffer asked for after a complete HTTP/1 start.
func (r *readShape) holdsNothing(n int) bool {
	switch {
	case r.headN == 0:
		return true
	case r.headN < len(r.head):
		return false // a partial first request is in the reader
	}
	return n == httpReadBuffer && n == r.most
}

// movable reports whether the drain should try to move c (whose mu the
// caller holds): it came from a listener the Mover takes, no move has
// failed, and it speaks HTTP/1.
func (s *Server) movable(c *conn) bool {
	return c.ln != nil && c.ln.canMove && !s.moveFailed.Load() && !c.notHTTP1.Load()
}

// movingOn reports whether a response on c may go without "Connection:
// close" during the drain, because c will move once idle. Past IdleGrace
// into the drain every response carries it, so that a connection that
// never goes idle cannot keep the drain open.
func (s *Server) movingOn(c *conn) bool {
	return c != nil && s.movable(c) && s.sinceDrain() < s.grace
}

// move asks the Mover to take c and reports whether it did. A failure
// stops all moving: whatever is left drains as it would without a Mover.
func (s *Server) move(c *conn) bool {
	if s.moveFailed.Load() {
		return false
	}
	err := s.mover.Move(c.ln.Listener, c.Conn)
	if err == nil {
		s.moved.Add(1)
		return true
	}
	c.moveFailed.Store(true)
	if !s.moveFailed.Swap(true) {
		s.log.Warn("httpdrain: moving connections failed; draining the rest", "err", err,
			"moved", s.moved.Load())
		signal(s.wentIdle) // connections passed over for moving now wait out IdleGrace
	}
	return false
}

// startMoving decides, as the drain starts, which listeners' connections
// move.
func (s *Server) startMoving(lns []*listener) int {
	if s.mover == nil {
		return 0
	}
	n := 0
	for _, l := range lns {
		if l.plain && s.mover.CanMove(l.Listener) {
			l.canMove = true
			n++
		}
	}
	return n
}
