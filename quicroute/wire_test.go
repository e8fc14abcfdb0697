package quicroute

import (
	"bytes"
	"errors"
	"net"
	"testing"
)

func TestForwardRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		addr *net.UDPAddr
	}{
		{"ipv4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4433}},
		{"ipv6", &net.UDPAddr{IP: net.IPv6loopback, Port: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := appendForward(nil, tc.addr, []byte("quic"))
			if err != nil {
				t.Fatal(err)
			}
			addr, p, err := parseForward(b)
			if err != nil {
				t.Fatal(err)
			}
			if !addr.IP.Equal(tc.addr.IP) || addr.Port != tc.addr.Port || !bytes.Equal(p, []byte("quic")) {
				t.Fatalf("got %v %q; want %v %q", addr, p, tc.addr, "quic")
			}
		})
	}
}

func TestParseForwardRejects(t *testing.T) {
	good, _ := appendForward(nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}, []byte{1})
	mut := func(i int, v byte) []byte { b := bytes.Clone(good); b[i] = v; return b }
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"no magic", mut(0, 'X')},
		{"version", mut(2, 9)},
		{"family", mut(3, 5)},
		{"no packet", good[:headerV4]},
		{"short ipv6", append([]byte{'Q', 'R', 1, 6}, make([]byte, 10)...)},
		{"port 0", append(mut(8, 0)[:8], 0, 0, 1)},
		{"oversize", append(bytes.Clone(good), make([]byte, maxPacket)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := parseForward(tc.b); !errors.Is(err, ErrBadForward) {
				t.Fatalf("got %v; want ErrBadForward", err)
			}
		})
	}
}

func FuzzParseForward(f *testing.F) {
	good, _ := appendForward(nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}, []byte{1, 2})
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		addr, p, err := parseForward(b)
		if err != nil {
			return
		}
		if addr.Port == 0 || len(p) == 0 || len(p) > maxPacket {
			t.Fatalf("accepted %v with %d bytes", addr, len(p))
		}
	})
}

func TestPacketGeneration(t *testing.T) {
	id, _ := genIDs{gen: 7}.GenerateConnectionID()
	cid := id.Bytes()
	short := append([]byte{0x40}, cid...)
	long := append([]byte{0xc0, 0, 0, 0, 1, CIDLen}, cid...)
	for _, tc := range []struct {
		name   string
		p      []byte
		gen    uint32
		routed bool
	}{
		{"empty", nil, 0, false},
		{"short header", short, 7, true},
		{"short header, too short", short[:CIDLen], 0, false},
		{"long header", long, 7, true},
		{"long header, other ID length", append([]byte{0xc0, 0, 0, 0, 1, 8}, cid...), 0, false},
		{"long header, truncated", long[:10], 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gen, ok := packetGeneration(tc.p)
			if gen != tc.gen || ok != tc.routed {
				t.Fatalf("got %d, %v; want %d, %v", gen, ok, tc.gen, tc.routed)
			}
		})
	}
}
