package upgrader

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// gatedPacketConn is a datagram socket ListenPacket returns: probation
// pauses its reads, as it pauses the Accepts of listeners, so that the
// successor reads every datagram (a QUIC server's new connections among
// them) while this generation keeps the socket, and resumes them on a
// rollback. Writes are not gated.
type gatedPacketConn struct {
	net.PacketConn

	// paused is written under mu; ReadFrom reads it without, so that a
	// datagram costs no lock while nothing is paused.
	paused atomic.Bool

	mu       sync.Mutex
	deadline time.Time     // the caller's read deadline
	changed  chan struct{} // closed and replaced on Resume and on SetReadDeadline

	waits func() // tests: called each time a read begins to wait at the gate
}

func newGatedPacketConn(pc net.PacketConn) *gatedPacketConn {
	return &gatedPacketConn{PacketConn: pc, changed: make(chan struct{})}
}

// ReadFrom reads as the socket does, but while paused it waits, until
// Resume or the caller's read deadline.
//
// A read already in the socket when the pause comes is woken by a past
// deadline, but a datagram that lands before the woken goroutine runs
// can still be read (Go's poller reports the readiness and not the
// deadline). That datagram is returned, not dropped: this generation
// serves what it starts and drains it after a pass. Every later read
// waits at the gate.
func (g *gatedPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		wait, err := g.gate()
		if err != nil {
			return 0, nil, err
		}
		if wait != nil {
			if g.waits != nil {
				g.waits()
			}
			g.sleep(wait)
			continue
		}
		n, addr, err := g.PacketConn.ReadFrom(p)
		if err != nil && g.paused.Load() {
			continue // Pause woke this read; the caller's deadline is checked by gate
		}
		return n, addr, err
	}
}

// gate says what a read must do now: wait on the returned channel
// (paused), fail (the caller's deadline has passed while paused), or read.
func (g *gatedPacketConn) gate() (<-chan struct{}, error) {
	if !g.paused.Load() {
		return nil, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.paused.Load() {
		return nil, nil
	}
	if !g.deadline.IsZero() && !time.Now().Before(g.deadline) {
		return nil, &net.OpError{Op: "read", Net: g.LocalAddr().Network(), Addr: g.LocalAddr(), Err: os.ErrDeadlineExceeded}
	}
	return g.changed, nil
}

// sleep waits for a change, or for the caller's deadline to pass.
func (g *gatedPacketConn) sleep(changed <-chan struct{}) {
	g.mu.Lock()
	d := g.deadline
	g.mu.Unlock()
	if d.IsZero() {
		<-changed
		return
	}
	t := time.NewTimer(time.Until(d))
	defer t.Stop()
	select {
	case <-changed:
	case <-t.C:
	}
}

func (g *gatedPacketConn) changedLocked() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// setPaused pauses or resumes reads: a blocked read is woken to wait,
// and on resume the caller's deadline applies again.
func (g *gatedPacketConn) setPaused(paused bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused.Load() == paused {
		return
	}
	if paused {
		g.paused.Store(true)
		g.PacketConn.SetReadDeadline(time.Unix(1, 0)) // wake a blocked read
		return
	}
	// The caller's deadline goes back on the socket before reads are let
	// through: a read that sees the gate open must not meet the past
	// deadline the pause left there.
	g.PacketConn.SetReadDeadline(g.deadline)
	g.paused.Store(false)
	g.changedLocked()
}

// SetReadDeadline sets the caller's read deadline, which a paused read
// honours too.
func (g *gatedPacketConn) SetReadDeadline(t time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.deadline = t
	g.changedLocked()
	if g.paused.Load() {
		return nil // applied on resume
	}
	return g.PacketConn.SetReadDeadline(t)
}

// SetDeadline sets both deadlines; see SetReadDeadline.
func (g *gatedPacketConn) SetDeadline(t time.Time) error {
	if err := g.PacketConn.SetWriteDeadline(t); err != nil {
		return err
	}
	return g.SetReadDeadline(t)
}

// SetReadBuffer and SetWriteBuffer reach the socket, for QUIC stacks that
// size its buffers.
func (g *gatedPacketConn) SetReadBuffer(n int) error {
	if s, ok := g.PacketConn.(interface{ SetReadBuffer(int) error }); ok {
		return s.SetReadBuffer(n)
	}
	return nil
}

func (g *gatedPacketConn) SetWriteBuffer(n int) error {
	if s, ok := g.PacketConn.(interface{ SetWriteBuffer(int) error }); ok {
		return s.SetWriteBuffer(n)
	}
	return nil
}
