package quicroute

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
)

// A forwarded datagram is
//
//	magic 'Q' 'R' | version 1 | family 4 or 6 | IP (4 or 16) | port (2, BE) | QUIC packet
const (
	wireVersion = 1
	headerV4    = 4 + 4 + 2
	headerV6    = 4 + 16 + 2
	// maxPacket bounds a QUIC packet read from the shared socket; quic-go
	// never sends or expects more than this on one path.
	maxPacket = 2048
	maxWire   = headerV6 + maxPacket + 1 // one more, to see truncation
)

// ErrBadForward says a forwarded datagram was malformed; it is dropped.
var ErrBadForward = errors.New("quicroute: malformed forwarded datagram")

// appendForward encodes p from addr into dst.
func appendForward(dst []byte, addr *net.UDPAddr, p []byte) ([]byte, error) {
	ip4 := addr.IP.To4()
	switch {
	case ip4 != nil:
		dst = append(dst, 'Q', 'R', wireVersion, 4)
		dst = append(dst, ip4...)
	case len(addr.IP) == net.IPv6len:
		dst = append(dst, 'Q', 'R', wireVersion, 6)
		dst = append(dst, addr.IP...)
	default:
		return dst, fmt.Errorf("quicroute: forward: peer address %v is not IPv4 or IPv6", addr)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(addr.Port))
	return append(dst, p...), nil
}

// parseForward decodes a forwarded datagram. The packet aliases b.
func parseForward(b []byte) (*net.UDPAddr, []byte, error) {
	if len(b) < 4 || b[0] != 'Q' || b[1] != 'R' {
		return nil, nil, fmt.Errorf("%w: no magic (%d bytes)", ErrBadForward, len(b))
	}
	if b[2] != wireVersion {
		return nil, nil, fmt.Errorf("%w: version %d, want %d", ErrBadForward, b[2], wireVersion)
	}
	var ipLen int
	switch b[3] {
	case 4:
		ipLen = net.IPv4len
	case 6:
		ipLen = net.IPv6len
	default:
		return nil, nil, fmt.Errorf("%w: address family %d", ErrBadForward, b[3])
	}
	hdr := 4 + ipLen + 2
	if len(b) <= hdr {
		return nil, nil, fmt.Errorf("%w: %d bytes, want more than %d", ErrBadForward, len(b), hdr)
	}
	if len(b)-hdr > maxPacket {
		return nil, nil, fmt.Errorf("%w: packet of %d bytes, limit %d", ErrBadForward, len(b)-hdr, maxPacket)
	}
	port := binary.BigEndian.Uint16(b[4+ipLen:])
	if port == 0 {
		return nil, nil, fmt.Errorf("%w: port 0", ErrBadForward)
	}
	ip := make(net.IP, ipLen)
	copy(ip, b[4:4+ipLen])
	return &net.UDPAddr{IP: ip, Port: int(port)}, b[hdr:], nil
}
