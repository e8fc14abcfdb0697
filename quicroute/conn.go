package quicroute

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// packet is one datagram on its way to the local transport. buf comes
// from bufs and goes back once copied out.
type packet struct {
	buf  *[]byte
	off  int // where the packet starts in buf
	n    int
	addr net.Addr
}

func (p packet) bytes() []byte { return (*p.buf)[p.off : p.off+p.n] }

var bufs = sync.Pool{New: func() any { b := make([]byte, maxWire); return &b }}

// routedConn is the net.PacketConn the local quic.Transport reads: its
// packets come from the router (the shared socket or the forwarding
// socket), its writes go straight to the shared socket.
type routedConn struct {
	shared net.PacketConn
	in     chan packet
	closed chan struct{}
	once   sync.Once

	mu       sync.Mutex
	deadline time.Time
	kick     chan struct{}  // a new deadline was set
	dropped  *atomic.Uint64 // the queue was full
	late     *atomic.Uint64 // the conn was closed
}

func newRoutedConn(shared net.PacketConn, queue int, dropped, late *atomic.Uint64) *routedConn {
	return &routedConn{shared: shared, in: make(chan packet, queue), closed: make(chan struct{}),
		kick: make(chan struct{}, 1), dropped: dropped, late: late}
}

// deliver queues p for the transport, or drops and counts it when the
// queue is full or the conn closed. It never blocks.
func (c *routedConn) deliver(p packet) {
	select {
	case <-c.closed:
		bufs.Put(p.buf)
		c.late.Add(1)
		return
	default:
	}
	select {
	case c.in <- p:
	default:
		bufs.Put(p.buf)
		c.dropped.Add(1)
	}
}

func (c *routedConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		c.mu.Lock()
		d := c.deadline
		c.mu.Unlock()
		var timer *time.Timer
		var timeout <-chan time.Time
		if !d.IsZero() {
			wait := time.Until(d)
			if wait <= 0 {
				return 0, nil, os.ErrDeadlineExceeded
			}
			timer = time.NewTimer(wait)
			timeout = timer.C
		}
		n, addr, err, done := c.wait(b, timeout)
		if timer != nil {
			timer.Stop()
		}
		if done {
			return n, addr, err
		}
	}
}

// wait returns a packet, or done false when a deadline changed or passed.
func (c *routedConn) wait(b []byte, timeout <-chan time.Time) (int, net.Addr, error, bool) {
	select {
	case p := <-c.in:
		n := copy(b, p.bytes())
		bufs.Put(p.buf)
		return n, p.addr, nil, true
	case <-c.closed:
		return 0, nil, net.ErrClosed, true
	case <-c.kick:
	case <-timeout:
	}
	return 0, nil, nil, false
}

func (c *routedConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	return c.shared.WriteTo(b, addr)
}

// Close ends reads; the shared socket belongs to the Router's caller.
func (c *routedConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *routedConn) LocalAddr() net.Addr { return c.shared.LocalAddr() }

func (c *routedConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

func (c *routedConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return nil
}

func (c *routedConn) SetWriteDeadline(t time.Time) error { return c.shared.SetWriteDeadline(t) }

// SetReadBuffer sizes the shared socket's receive buffer, as quic-go does
// for a UDP socket it reads itself (the kernel socket is one for all
// generations).
func (c *routedConn) SetReadBuffer(n int) error {
	if s, ok := c.shared.(interface{ SetReadBuffer(int) error }); ok {
		return s.SetReadBuffer(n)
	}
	return nil
}

// SetWriteBuffer sizes the shared socket's send buffer.
func (c *routedConn) SetWriteBuffer(n int) error {
	if s, ok := c.shared.(interface{ SetWriteBuffer(int) error }); ok {
		return s.SetWriteBuffer(n)
	}
	return nil
}
