// Package inbox is the listener through which connections moved from the
// previous generation reach a server's Accept, alongside those the kernel
// queues: the upgrader wraps each listener it returns in one.
package inbox

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// Inbox is a stream listener whose Accept returns, besides the connections
// the kernel queues, connections given to Deliver: a connection that
// another process accepted and passed on is served like a new one. Create
// it with New; it is safe for concurrent use.
//
// Closing an Inbox closes the listener it wraps (this process's descriptor
// only). Accept then still returns what was delivered, and waits for
// deliveries announced with Hold, before it reports the close: a
// connection promised to this listener is never dropped by it.
type Inbox struct {
	net.Listener
	name   string
	wake   deadliner
	mu     sync.Mutex
	queue  []net.Conn
	holds  int
	closed bool
	paused bool          // Pause: the kernel's queue waits, deliveries still come
	free   chan struct{} // closed and replaced when holds drop or the queue grows
}

// deadliner is what *net.TCPListener and *net.UnixListener offer to wake a
// blocked Accept.
type deadliner interface {
	SetDeadline(time.Time) error
}

// ErrNoDelivery is returned by New for a listener whose Accept cannot
// be woken, and by Hold once the Inbox is closed.
var ErrNoDelivery = errors.New("inbox: listener takes no delivered connections")

// aLongTimeAgo makes a blocked Accept return at once.
var aLongTimeAgo = time.Unix(1, 0)

// New wraps ln, the listener of the member called name. The Inbox
// owns ln.
func New(name string, ln net.Listener) (*Inbox, error) {
	d, ok := ln.(deadliner)
	if !ok {
		return nil, fmt.Errorf("inbox %q: %T: %w", name, ln, ErrNoDelivery)
	}
	return &Inbox{Listener: ln, name: name, wake: d, free: make(chan struct{})}, nil
}

// Name is the set member the Inbox listens on.
func (l *Inbox) Name() string { return l.name }

// Unwrap returns the listener the Inbox wraps.
func (l *Inbox) Unwrap() net.Listener { return l.Listener }

// Hold announces the delivery of one connection: until Deliver delivers
// it or Release gives it up, Accept after Close waits instead of reporting
// the close. It fails with ErrNoDelivery once the Inbox is closed.
func (l *Inbox) Hold() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("inbox %q closed: %w", l.name, ErrNoDelivery)
	}
	l.holds++
	return nil
}

// Release ends one Hold.
func (l *Inbox) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.holds--
	l.changedLocked()
}

// Deliver queues conns for Accept and releases one Hold for each of them:
// a caller Holds once per connection it will deliver, and delivers a batch
// in one call, which wakes a blocked Accept once. The Inbox owns conns from
// now on; Close does not close them (Accept hands every one out).
// Accept returns each connection so that it has a Moved method reporting
// true, by which a server tells an idle keep-alive connection that moved
// from a new one: a *net.TCPConn or *net.UnixConn comes wrapped (embedded
// in MovedTCPConn or MovedUnixConn), and a connection that already has
// such a method (as the upgrader's do) comes as it is.
func (l *Inbox) Deliver(conns []net.Conn) {
	if len(conns) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range conns {
		l.queue = append(l.queue, markMoved(c))
	}
	l.holds -= len(conns)
	l.changedLocked()
	if !l.closed && !l.paused {
		l.wake.SetDeadline(aLongTimeAgo) // a blocked Accept looks at the queue
	}
}

func (l *Inbox) changedLocked() {
	close(l.free)
	l.free = make(chan struct{})
}

// Pause stops Accept taking connections from the kernel: they wait in the
// listening socket's queue (for another process that shares it, or for
// Resume). Delivered connections are still returned. A blocked Accept is
// woken to wait instead; a connection it accepted just before is returned.
func (l *Inbox) Pause() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.paused || l.closed {
		return
	}
	l.paused = true
	l.wake.SetDeadline(aLongTimeAgo)
}

// Resume undoes Pause: Accept takes the kernel's connections again,
// beginning with those that queued meanwhile.
func (l *Inbox) Resume() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.paused {
		return
	}
	l.paused = false
	l.changedLocked()
}

// Accept returns the next delivered connection, or else the next one the
// kernel accepts.
func (l *Inbox) Accept() (net.Conn, error) {
	for {
		c, wait, err := l.next()
		if c != nil || err != nil {
			return c, err
		}
		if wait != nil {
			<-wait
			continue
		}
		c, err = l.Listener.Accept()
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return l.afterClose(err)
		}
	}
}

// next pops a delivered connection; otherwise, once closed, it says what
// to wait for; otherwise it re-arms the listener for a kernel accept.
func (l *Inbox) next() (net.Conn, <-chan struct{}, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue) > 0 {
		c := l.queue[0]
		l.queue[0] = nil
		l.queue = l.queue[1:]
		return c, nil, nil
	}
	if l.closed {
		if l.holds > 0 {
			return nil, l.free, nil
		}
		return nil, nil, fmt.Errorf("inbox %q: accept: %w", l.name, net.ErrClosed)
	}
	if l.paused {
		return nil, l.free, nil
	}
	// Under the lock: a Deliver from now on sets the deadline after this.
	l.wake.SetDeadline(time.Time{})
	return nil, nil, nil
}

// afterClose turns an Accept error into one more delivered connection when
// the listener was closed with deliveries pending.
func (l *Inbox) afterClose(err error) (net.Conn, error) {
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if !closed {
		return nil, err
	}
	return l.Accept()
}

// Close closes the wrapped listener; see Inbox.
func (l *Inbox) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.paused = false
	l.changedLocked()
	l.mu.Unlock()
	return l.Listener.Close()
}

// MovedTCPConn is a TCP connection that was delivered to an Inbox.
type MovedTCPConn struct{ *net.TCPConn }

// Moved reports true.
func (MovedTCPConn) Moved() bool { return true }

// MovedUnixConn is a Unix connection that was delivered to an Inbox.
type MovedUnixConn struct{ *net.UnixConn }

// Moved reports true.
func (MovedUnixConn) Moved() bool { return true }

func markMoved(c net.Conn) net.Conn {
	switch c := c.(type) {
	case *net.TCPConn:
		return MovedTCPConn{c}
	case *net.UnixConn:
		return MovedUnixConn{c}
	}
	return c
}

// SyscallConn reaches the listening socket itself, as it does for the
// listener Inbox wraps, for callers that set socket options or pass the
// descriptor on.
func (l *Inbox) SyscallConn() (syscall.RawConn, error) {
	sc, ok := l.Listener.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("inbox %q: the listener gives no access to its descriptor (not a syscall.Conn)", l.name)
	}
	return sc.SyscallConn()
}
