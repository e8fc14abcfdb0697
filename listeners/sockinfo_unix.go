//go:build unix

package listeners

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// sockInfo is what the kernel says a descriptor is. The zero value
// describes a descriptor that is not a socket.
type sockInfo struct {
	socket    bool
	sotype    int // unix.SOCK_STREAM, unix.SOCK_DGRAM, ...
	family    int // unix.AF_INET, unix.AF_INET6, unix.AF_UNIX, ...
	listening bool
	local     unix.Sockaddr // nil when unbound or undecodable
}

// probe inspects fd without changing it. Peers and environments lie, so
// every inherited fd goes through here before the Set trusts its entry.
func probe(fd int) (sockInfo, error) {
	// SO_TYPE tells a socket from any other open file (ENOTSOCK) and a
	// closed fd (EBADF) in one syscall; a handoff of thousands of fds pays
	// for every one.
	sotype, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if errors.Is(err, unix.ENOTSOCK) {
		return sockInfo{}, nil
	}
	if err != nil {
		return sockInfo{}, fmt.Errorf("getsockopt SO_TYPE fd %d: %w", fd, err)
	}
	si := sockInfo{socket: true, sotype: sotype}
	// An undecodable address only means an exotic family, which the
	// family check reports better.
	si.local, _ = unix.Getsockname(fd)
	if si.family, err = socketFamily(fd, si.local); err != nil {
		return sockInfo{}, fmt.Errorf("socket family of fd %d: %w", fd, err)
	}
	if si.sotype == unix.SOCK_STREAM {
		// BSDs answer with the option's bit rather than 1: test for non-zero.
		v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
		if err != nil {
			return sockInfo{}, fmt.Errorf("getsockopt SO_ACCEPTCONN fd %d: %w", fd, err)
		}
		si.listening = v != 0
	}
	return si, nil
}

// fits reports whether a socket like si is what network means, in the
// sense of net.Listen: "tcp" is any stream inet socket, "tcp4" only IPv4,
// and so on. Stream sockets must be listening to serve Listen.
func (si sockInfo) fits(network string) bool {
	if !si.socket {
		return false
	}
	sotype, fam1, fam2 := networkSocket(network)
	if sotype == unix.SOCK_STREAM && !si.listening {
		return false
	}
	return si.sotype == sotype && (si.family == fam1 || si.family == fam2)
}

// networkSockets gives the socket type and the one or two families each
// network accepts; -1 stands for none.
var networkSockets = map[string][3]int{
	"tcp": {unix.SOCK_STREAM, unix.AF_INET, unix.AF_INET6}, "udp": {unix.SOCK_DGRAM, unix.AF_INET, unix.AF_INET6},
	"tcp4": {unix.SOCK_STREAM, unix.AF_INET, -1}, "udp4": {unix.SOCK_DGRAM, unix.AF_INET, -1},
	"tcp6": {unix.SOCK_STREAM, unix.AF_INET6, -1}, "udp6": {unix.SOCK_DGRAM, unix.AF_INET6, -1},
	"unix": {unix.SOCK_STREAM, unix.AF_UNIX, -1}, "unixgram": {unix.SOCK_DGRAM, unix.AF_UNIX, -1},
}

func networkSocket(network string) (sotype, fam1, fam2 int) {
	if s, ok := networkSockets[network]; ok {
		return s[0], s[1], s[2]
	}
	return -1, -1, -1
}

// check reports how si differs from what network claims; files only need
// to exist, which probe has already shown.
func (si sockInfo) check(network string) error {
	if network == networkFile || si.fits(network) {
		return nil
	}
	return fmt.Errorf("claimed %s, got %s", network, si)
}

// networkOf names what si is, for descriptors nobody described (systemd):
// anything Listen and ListenPacket cannot serve is a "file".
func (si sockInfo) networkOf() string {
	for _, n := range [...]string{"tcp", "udp", "unix", "unixgram"} {
		if si.fits(n) {
			return n
		}
	}
	return networkFile
}

func (si sockInfo) String() string {
	if !si.socket {
		return "a descriptor that is not a socket"
	}
	s := familyName(si.family) + " " + typeName(si.sotype) + " socket"
	if si.sotype == unix.SOCK_STREAM && !si.listening {
		s = "non-listening " + s
	}
	if a := sockaddrString(si.local); a != "" {
		s += " bound to " + a
	}
	if strings.HasPrefix(s, "IPv") {
		return "an " + s
	}
	return "a " + s
}

var (
	familyNames = map[int]string{unix.AF_INET: "IPv4", unix.AF_INET6: "IPv6", unix.AF_UNIX: "unix"}
	typeNames   = map[int]string{unix.SOCK_STREAM: "stream", unix.SOCK_DGRAM: "datagram", unix.SOCK_SEQPACKET: "seqpacket"}
)

func familyName(family int) string { return nameOf(familyNames, family, "family-") }
func typeName(sotype int) string   { return nameOf(typeNames, sotype, "type-") }

// nameOf names v, or says what number it is when names does not know it.
func nameOf(names map[int]string, v int, unknown string) string {
	if n, ok := names[v]; ok {
		return n
	}
	return unknown + strconv.Itoa(v)
}

// sockaddrString formats sa the way net.Addr.String does.
func sockaddrString(sa unix.Sockaddr) string {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)).String()
	case *unix.SockaddrInet6:
		ip := netip.AddrFrom16(sa.Addr)
		if sa.ZoneId != 0 {
			ip = ip.WithZone(zoneName(int(sa.ZoneId)))
		}
		return netip.AddrPortFrom(ip, uint16(sa.Port)).String()
	case *unix.SockaddrUnix:
		return sa.Name
	}
	return ""
}

func zoneName(index int) string {
	if ifi, err := net.InterfaceByIndex(index); err == nil {
		return ifi.Name
	}
	return strconv.Itoa(index)
}

// unixPath is the path of a bound Unix socket, or "" for anything else,
// including abstract sockets (which have no file to unlink).
func (si sockInfo) unixPath() string {
	sa, ok := si.local.(*unix.SockaddrUnix)
	if !ok || sa.Name == "" || isAbstract(sa.Name) {
		return ""
	}
	return sa.Name
}

// addrFamily is the address family of a decoded socket address.
func addrFamily(sa unix.Sockaddr) (int, bool) {
	switch sa.(type) {
	case *unix.SockaddrInet4:
		return unix.AF_INET, true
	case *unix.SockaddrInet6:
		return unix.AF_INET6, true
	case *unix.SockaddrUnix:
		return unix.AF_UNIX, true
	}
	return 0, false
}
