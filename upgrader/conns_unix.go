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

// connFromFD makes a connection of a committed descriptor, which it takes
// (closes) whatever happens. holdAll has checked that fd is a connected
// stream socket; the type check here is net's own.
//
// O_NONBLOCK belongs to the socket's open file description, which the
// previous generation shares until it closes its descriptor (it only
// closes it once committed). os.NewFile would register a non-blocking fd
// with the poller, only for net.FileConn to dup it and register the dup;
// clearing the flag first spares that epoll add and delete, a good part
// of taking 10,000 connections. net.FileConn clears it anyway (File.Fd
// puts a file in blocking mode) and sets it again on its dup.
func connFromFD(fd int) (net.Conn, error) {
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("not a usable descriptor: %w", err)
	}
	f := os.NewFile(uintptr(fd), "moved-conn")
	defer f.Close() // net.FileConn made its own dup
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
