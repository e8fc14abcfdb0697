package quicroute

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/handoff-go/handoff/internal/testutil"
)

// heldConn stands in for the shared socket at the moment Retire races a
// read: its read is already under way and returns what is queued even
// though a deadline has been set since; only an empty queue reports the
// deadline. The kernel and Go's poller do exactly this when a readiness
// event wakes the reader just before Retire sets its deadline.
type heldConn struct {
	net.PacketConn // only the methods below are used
	release        chan struct{}
	pkts           chan []byte
}

var heldFrom = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40001}

func (c *heldConn) ReadFrom(b []byte) (int, net.Addr, error) {
	<-c.release
	select {
	case p := <-c.pkts:
		return copy(b, p), heldFrom, nil
	default:
		return 0, nil, os.ErrDeadlineExceeded
	}
}

func (c *heldConn) SetReadDeadline(time.Time) error { return nil }
func (c *heldConn) LocalAddr() net.Addr             { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4433} }

// TestRetiredReadGoesToSuccessor: a packet a retired router still reads
// goes to the successor unless it names the retired generation. Before
// the fix a new client's Initial read this way opened its connection on
// the draining generation (TestSeveralGenerationsDrain failed about once
// in 100 runs under -race: "got gen 1; want gen 2").
func TestRetiredReadGoesToSuccessor(t *testing.T) {
	testutil.CheckLeaks(t)
	path := PathNextTo(filepath.Join(testutil.ShortDir(t), "ctl"))
	succ, err := bindForward(path(2)) // generation 2's forwarding socket
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(path(2))
	defer succ.Close()

	// A client's first Initial: a long header with an 8-byte ID of its own
	// choosing, which names no generation.
	initial := append([]byte{0xc0, 0, 0, 0, 1, 8}, bytes.Repeat([]byte{0xab}, 1200)...)
	own, _ := genIDs{gen: 1}.GenerateConnectionID()
	short := append(append([]byte{0x40}, own.Bytes()...), make([]byte, 40)...)

	pc := &heldConn{release: make(chan struct{}), pkts: make(chan []byte, 2)}
	pc.pkts <- initial
	pc.pkts <- short
	r, err := New(pc, Options{Generation: 1, SocketPath: path})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Retire()
	close(pc.release)

	succ.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	n, err := succ.Read(buf)
	if err != nil {
		t.Fatalf("successor got nothing: %v; stats %+v", err, r.Stats())
	}
	addr, pkt, err := parseForward(buf[:n])
	if err != nil || !bytes.Equal(pkt, initial) || addr.String() != heldFrom.String() {
		t.Fatalf("successor got %d bytes from %v (%v); want the Initial from %v", len(pkt), addr, err, heldFrom)
	}

	r.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err = r.conn.ReadFrom(buf)
	if err != nil || !bytes.Equal(buf[:n], short) {
		t.Fatalf("own transport read %d bytes, %v; want the packet naming generation 1", n, err)
	}
	if s := r.Stats(); s.Forwarded != 1 || s.FromShared != 2 {
		t.Fatalf("stats %+v; want 2 read, 1 forwarded", s)
	}
}
