//go:build unix

package listeners

import (
	"net"

	"golang.org/x/sys/unix"
)

// target is a requested address, resolved once before the registry lock
// is taken (resolving may read /etc/hosts or ask DNS).
type target struct {
	path string // unix and unixgram
	ip   net.IP // nil or unspecified: any address
	port int
}

func resolveTarget(req request) (target, error) {
	switch req.network {
	case "unix", "unixgram":
		return target{path: req.addr}, nil
	case "tcp", "tcp4", "tcp6":
		a, err := net.ResolveTCPAddr(req.network, req.addr)
		if err != nil {
			return target{}, req.wrap(err)
		}
		return target{ip: a.IP, port: a.Port}, nil
	}
	a, err := net.ResolveUDPAddr(req.network, req.addr)
	if err != nil {
		return target{}, req.wrap(err)
	}
	return target{ip: a.IP, port: a.Port}, nil
}

// matches reports whether a socket bound to sa serves t. With anyPort, a
// request for port 0 accepts any port: that is how a named port-0 listener
// keeps its port across restarts.
func (t target) matches(sa unix.Sockaddr, anyPort bool) bool {
	switch sa := sa.(type) {
	case *unix.SockaddrUnix:
		return t.path != "" && sa.Name == t.path
	case *unix.SockaddrInet4:
		return t.matchesInet(sa.Addr[:], sa.Port, anyPort)
	case *unix.SockaddrInet6:
		return t.matchesInet(sa.Addr[:], sa.Port, anyPort)
	}
	return false
}

func (t target) matchesInet(ip net.IP, port int, anyPort bool) bool {
	if t.path != "" || (port != t.port && !(anyPort && t.port == 0)) {
		return false
	}
	// A wildcard request is served by a wildcard socket of either family:
	// Go binds "tcp" ":80" and "0.0.0.0:80" as a dual-stack [::]:80.
	if t.ip == nil || t.ip.IsUnspecified() {
		return ip.IsUnspecified()
	}
	return t.ip.Equal(ip)
}
