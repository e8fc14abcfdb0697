package quicroute

import (
	"net"
	"path/filepath"
	"testing"
)

// benchRoute measures one packet of 1,200 bytes from the router of
// generation 2 (which reads the shared socket) to a quic.Transport's read:
// to gen 2's own transport (local), or over the Unix socket to gen 1's
// (forwarded). The difference is the forwarding cost per packet.
func benchRoute(b *testing.B, to uint32) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Close()
	path := PathNextTo(filepath.Join(b.TempDir(), "ctl"))
	r1, err := New(pc, Options{Generation: 1, SocketPath: path})
	if err != nil {
		b.Fatal(err)
	}
	defer r1.Close()
	r1.Retire()
	r2, err := New(pc, Options{Generation: 2, SocketPath: path})
	if err != nil {
		b.Fatal(err)
	}
	defer r2.Close()
	r2.Retire() // the benchmark feeds route itself
	dst := map[uint32]*Router{1: r1, 2: r2}[to]

	id, _ := genIDs{gen: to}.GenerateConnectionID()
	pkt := append(append([]byte{0x40}, id.Bytes()...), make([]byte, 1200-1-CIDLen)...)
	from := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	out := make([]byte, maxPacket)
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		buf := bufs.Get().(*[]byte)
		copy((*buf)[headerV6:], pkt)
		r2.route(packet{buf: buf, off: headerV6, n: len(pkt), addr: from})
		if n, _, err := dst.conn.ReadFrom(out); err != nil || n != len(pkt) {
			b.Fatalf("read %d bytes, %v; want %d", n, err, len(pkt))
		}
	}
	if s := r2.Stats(); s.Dropped != 0 {
		b.Fatalf("dropped %d", s.Dropped)
	}
}

func BenchmarkRouteLocal(b *testing.B)     { benchRoute(b, 2) }
func BenchmarkRouteForwarded(b *testing.B) { benchRoute(b, 1) }
