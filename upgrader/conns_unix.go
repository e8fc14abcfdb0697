//go:build unix

package upgrader

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// connsSupported: sockets of connections can travel here.
const connsSupported = true

// dupConnFD returns a close-on-exec dup of c's descriptor, which the
// caller owns. The dup keeps the socket open while it travels even if c is
// closed meanwhile.
func dupConnFD(c net.Conn) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1, fmt.Errorf("%T has no descriptor", c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, fmt.Errorf("dup: %w", derr)
	}
	return fd, nil
}

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
