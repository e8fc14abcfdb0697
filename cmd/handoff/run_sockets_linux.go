package main

import (
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/handoff-go/handoff/internal/runhooks"
	"github.com/handoff-go/handoff/upgrader"
	"golang.org/x/sys/unix"
)

// childSocket is one socket every child gets. fd is the supervisor's own
// dup (close-on-exec), kept for its whole life and passed to each child
// as is: the supervisor never accepts on it and never changes its flags.
type childSocket struct {
	name string
	fd   int
}

// openSockets claims the sockets for the children through u: inherited
// from a previous supervisor or systemd when there are ones by that name
// (or address), else newly bound. With no -listen, every inherited socket
// is passed on. On error nothing stays open.
func openSockets(u *upgrader.Upgrader, specs []listenSpec) ([]childSocket, error) {
	if len(specs) == 0 {
		specs = inheritedSpecs(u)
		if len(specs) == 0 {
			return nil, fmt.Errorf("%w: no sockets: give -listen NAME=NETWORK://ADDR, or run under socket activation", errUsage)
		}
	}
	var socks []childSocket
	for _, spec := range specs {
		fd, err := openSocket(u, spec)
		if err != nil {
			closeSockets(socks)
			return nil, fmt.Errorf("%w: -listen %s=%s://%s: %v", errUsage, spec.name, spec.network, spec.addr, err)
		}
		socks = append(socks, childSocket{name: spec.name, fd: fd})
	}
	return socks, nil
}

// inheritedSpecs lists what the set inherited, except the control socket.
func inheritedSpecs(u *upgrader.Upgrader) []listenSpec {
	var specs []listenSpec
	for _, l := range u.Listeners() {
		if l.Inherited && l.Name != runhooks.ControlName {
			specs = append(specs, listenSpec{name: l.Name, network: l.Network, addr: l.Addr})
		}
	}
	return specs
}

func openSocket(u *upgrader.Upgrader, spec listenSpec) (int, error) {
	var c io.Closer
	var err error
	switch spec.network {
	case "tcp", "tcp4", "tcp6", "unix":
		c, err = u.Listen(spec.name, spec.network, spec.addr)
	case "udp", "udp4", "udp6", "unixgram":
		c, err = u.ListenPacket(spec.name, spec.network, spec.addr)
	default:
		return -1, fmt.Errorf("cannot pass a %q member to a child", spec.network)
	}
	if err != nil {
		return -1, err
	}
	defer c.Close() // ours is the dup; the set keeps its own
	return dupOf(c)
}

// dupOf returns a close-on-exec dup of c's fd, without Fd (which would
// switch the socket, shared with every child, to blocking mode).
func dupOf(c io.Closer) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1, errors.New("not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(raw uintptr) { fd, derr = unix.FcntlInt(raw, unix.F_DUPFD_CLOEXEC, 3) }); err != nil {
		return -1, err
	}
	return fd, derr
}

func closeSockets(socks []childSocket) {
	for _, s := range socks {
		unix.Close(s.fd)
	}
}

func socketNames(socks []childSocket) []string {
	names := make([]string, len(socks))
	for i, s := range socks {
		names[i] = s.name
	}
	return names
}
