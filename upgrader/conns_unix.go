//go:build unix

package upgrader

import (
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// connsSupported: sockets of connections can travel here.
const connsSupported = true

func closeFD(fd int) { unix.Close(fd) }

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// checkConnFD checks, before anything is promised for it, that fd is a
// connected stream socket, whatever the peer said it is.
func checkConnFD(fd int) error {
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return fmt.Errorf("not a socket: %w", err)
	}
	if typ != unix.SOCK_STREAM {
		return errors.New("not a stream socket")
	}
	if _, err := unix.Getpeername(fd); err != nil {
		return fmt.Errorf("not a connected socket: %w", err)
	}
	return nil
}

// connFromFD makes a connection of a received descriptor, which it takes
// (closes) whatever happens. The peer's word is not trusted: the fd must
// be a connected stream socket (TCP or Unix).
func connFromFD(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "moved-conn")
	defer f.Close() // net.FileConn made its own dup
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return nil, fmt.Errorf("not a socket: %w", err)
	}
	if typ != unix.SOCK_STREAM {
		return nil, errors.New("not a stream socket")
	}
	c, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	switch c.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		c.Close()
		return nil, fmt.Errorf("a %T, not a TCP or Unix connection", c)
	}
	if c.RemoteAddr() == nil {
		c.Close()
		return nil, errors.New("not a connected socket")
	}
	return c, nil
}
