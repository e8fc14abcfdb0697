package upgrader

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// TestGatedPacketConn: a paused read waits, even one blocked when the
// pause came, leaving datagrams in the socket; the caller's read deadline
// still ends it; after resume it reads what arrived meanwhile.
//
// The datagram is sent once the read waits at the gate: a read the pause
// wakes in the kernel can still take a datagram that lands before it runs
// again (see ReadFrom), which is not what this test is about; sending
// earlier made it fail once in 10 runs of the package beside the other
// core packages' tests.
func TestGatedPacketConn(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	g := newGatedPacketConn(pc)
	waiting := make(chan struct{}, 1)
	g.waits = func() {
		select {
		case waiting <- struct{}{}:
		default: // one is enough to know
		}
	}
	type read struct {
		msg string
		err error
	}
	reads := make(chan read, 1)
	readOnce := func() {
		buf := make([]byte, 64)
		n, _, err := g.ReadFrom(buf)
		reads <- read{string(buf[:n]), err}
	}
	go readOnce()
	// Usually blocked in the kernel by now, and the pause must wake it;
	// if not yet, the gate stops it before it reads: either way it waits.
	time.Sleep(10 * time.Millisecond)
	g.setPaused(true)
	select {
	case <-waiting:
	case <-time.After(5 * time.Second):
		t.Fatal("a read woken by the pause did not come to wait at the gate in 5s")
	}

	c, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("queued")); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-reads:
		t.Fatalf("paused read returned %q, %v; want it to wait", r.msg, r.err)
	case <-time.After(200 * time.Millisecond):
	}

	g.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	select {
	case r := <-reads:
		if !errors.Is(r.err, os.ErrDeadlineExceeded) {
			t.Fatalf("paused read past its deadline: %q, %v; want a deadline error", r.msg, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("paused read ignored the caller's deadline")
	}

	g.SetReadDeadline(time.Time{})
	go readOnce()
	g.setPaused(false)
	select {
	case r := <-reads:
		if r.err != nil || r.msg != "queued" {
			t.Fatalf("read after resume: %q, %v; want the datagram sent while paused", r.msg, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("read after resume still blocked")
	}
}
