package conndrain

import (
	"context"
	"errors"
	"net"
	"sync"
)

// Options configure a Listener. The zero value works.
type Options struct {
	// OnDrain, if set, is called once for each connection open when Drain
	// starts, and for each accepted after, so that the application can tell
	// its session to end (set a read deadline, send a goodbye). It runs on
	// the goroutine of Drain (or of Accept, for a connection accepted
	// during the drain) with no lock held, and must not block for long.
	OnDrain func(net.Conn)
}

// Listener is a net.Listener whose accepted connections are tracked until
// they are closed. Create it with New; it is safe for concurrent use.
type Listener struct {
	net.Listener
	opts Options

	mu        sync.Mutex
	conns     map[*Conn]struct{} // accepted and not yet closed
	accepting int                // Accept calls in the wrapped listener
	draining  bool               // Drain has started: no new Accept call
	cut       bool               // Drain gave up: close what still arrives
	drained   chan struct{}      // closed once draining with nothing left
}

// New wraps ln. The Listener owns ln from now on: Drain and Close close it.
func New(ln net.Listener, opts Options) *Listener {
	return &Listener{Listener: ln, opts: opts, conns: make(map[*Conn]struct{}), drained: make(chan struct{})}
}

// Accept waits for the next connection and tracks it until it is closed.
// Once Drain has started it returns an error wrapping net.ErrClosed.
func (l *Listener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.draining {
		l.mu.Unlock()
		return nil, l.closedErr()
	}
	l.accepting++
	l.mu.Unlock()

	nc, err := l.Listener.Accept()

	l.mu.Lock()
	l.accepting--
	var c *Conn
	late := err == nil && l.cut // accepted as the deadline passed: the drain is over
	if err == nil && !late {
		c = &Conn{Conn: nc, l: l}
		l.conns[c] = struct{}{}
	}
	tell := c != nil && l.draining && l.opts.OnDrain != nil
	l.checkDrainedLocked()
	l.mu.Unlock()
	switch {
	case err != nil:
		return nil, err
	case late:
		nc.Close()
		return nil, l.closedErr()
	case tell:
		l.opts.OnDrain(c) // accepted just as the drain began: it must hear of it too
	}
	return c, nil
}

func (l *Listener) closedErr() error {
	return &net.OpError{Op: "accept", Net: l.Addr().Network(), Addr: l.Addr(), Err: net.ErrClosed}
}

// Active reports how many accepted connections are still open.
func (l *Listener) Active() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// Drain stops accepting (it closes the listener, never shuts the socket
// down), calls Options.OnDrain for each open connection, and waits until
// the application has closed every connection it accepted. If ctx ends
// first, Drain closes the rest and returns a *CutError saying how many.
// It returns nil when nothing was cut. Calling it again waits again.
func (l *Listener) Drain(ctx context.Context) error {
	l.mu.Lock()
	first := !l.draining
	l.draining = true
	var open []net.Conn
	if first && l.opts.OnDrain != nil {
		for c := range l.conns {
			open = append(open, c)
		}
	}
	l.checkDrainedLocked()
	l.mu.Unlock()

	var closeErr error
	if first {
		if err := l.Listener.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			closeErr = err
		}
	}
	for _, c := range open {
		l.opts.OnDrain(c)
	}
	select {
	case <-l.drained:
		return closeErr
	case <-ctx.Done():
	}
	return errors.Join(closeErr, l.cutAll(ctx))
}

// Shutdown is Drain, for code that expects the name.
func (l *Listener) Shutdown(ctx context.Context) error { return l.Drain(ctx) }

// cutAll closes every connection still open and says how many it closed.
func (l *Listener) cutAll(ctx context.Context) error {
	l.mu.Lock()
	l.cut = true
	left := make([]*Conn, 0, len(l.conns))
	for c := range l.conns {
		left = append(left, c)
		delete(l.conns, c)
	}
	l.checkDrainedLocked()
	l.mu.Unlock()
	for _, c := range left {
		c.Conn.Close() // outside the lock: a wrapped conn's Close may write
	}
	if len(left) == 0 {
		return nil // the last one closed as the deadline passed
	}
	return &CutError{Conns: len(left), Cause: context.Cause(ctx)}
}

// checkDrainedLocked closes drained once a drain has nothing left to wait
// for: no connection open and no Accept that might still return one.
func (l *Listener) checkDrainedLocked() {
	if !l.draining || l.accepting > 0 || len(l.conns) > 0 {
		return
	}
	select {
	case <-l.drained:
	default:
		close(l.drained)
	}
}

// forget stops tracking c and reports whether it was tracked.
func (l *Listener) forget(c *Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.conns[c]
	delete(l.conns, c)
	l.checkDrainedLocked()
	return ok
}

// Conn is a connection a Listener accepted. Closing it ends its tracking.
type Conn struct {
	net.Conn
	l *Listener
}

// Close closes the connection and stops tracking it.
func (c *Conn) Close() error {
	c.l.forget(c)
	return c.Conn.Close()
}

// NetConn returns the connection the listener accepted (a *net.TCPConn,
// say), for its protocol's methods. Close c, not it, or the drain waits
// for a connection that is gone.
func (c *Conn) NetConn() net.Conn { return c.Conn }
