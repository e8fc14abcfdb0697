//go:build unix

package upgrader

// The descriptors of moving connections, for both sides: the new side
// checks and wraps what it receives (checkConnFD, connFromFD, movedConn).

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

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
// connected stream socket, whatever the peer said it is, and returns the
// address of the socket's peer.
func checkConnFD(fd int) (net.Addr, error) {
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return nil, fmt.Errorf("not a socket: %w", err)
	}
	if typ != unix.SOCK_STREAM {
		return nil, errors.New("not a stream socket")
	}
	sa, err := unix.Getpeername(fd)
	if err != nil {
		return nil, fmt.Errorf("not a connected socket: %w", err)
	}
	a := connAddr(sa)
	if a == nil {
		return nil, fmt.Errorf("a stream socket of family %T, not TCP or Unix", sa)
	}
	return a, nil
}

// connFromFD makes a connection of a committed descriptor, which it takes
// (closes on error, or with the connection). peer is what checkConnFD
// returned for fd; nil has connFromFD check fd itself.
//
// It builds a movedConn over an *os.File rather than call net.FileConn,
// which dups the descriptor and asks the kernel again for what is known
// already. The O_NONBLOCK check stays although os.NewFile repeats it: a
// blocking socket from a peer would make a file outside the poller, whose
// deadlines (the drain's kicks) fail.
func connFromFD(fd int, peer net.Addr) (net.Conn, error) {
	fail := func(err error) (net.Conn, error) { unix.Close(fd); return nil, err }
	if peer == nil {
		var err error
		if peer, err = checkConnFD(fd); err != nil {
			return fail(err)
		}
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fail(fmt.Errorf("not a usable socket: %w", err))
	}
	local := connAddr(sa)
	if local == nil || local.Network() != peer.Network() {
		return fail(fmt.Errorf("a socket bound to a %T, connected to a %s peer", sa, peer.Network()))
	}
	// Non-blocking (it shares its open file description with the previous
	// generation's, which is), so that os.NewFile puts it in the poller
	// and deadlines work.
	if err := unix.SetNonblock(fd, true); err != nil {
		return fail(fmt.Errorf("not a usable descriptor: %w", err))
	}
	return &movedConn{f: os.NewFile(uintptr(fd), "moved-conn"), local: local, remote: peer}, nil
}

// connAddr is the net.Addr of a TCP or Unix socket address, or nil.
func connAddr(sa unix.Sockaddr) net.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(append([]byte(nil), sa.Addr[:]...)), Port: sa.Port}
	case *unix.SockaddrInet6:
		a := &net.TCPAddr{IP: net.IP(append([]byte(nil), sa.Addr[:]...)), Port: sa.Port}
		if sa.ZoneId != 0 {
			a.Zone = strconv.Itoa(int(sa.ZoneId))
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				a.Zone = ifi.Name
			}
		}
		return a
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: "unix"}
	}
	return nil
}

// movedConn is a connection whose socket came from the previous
// generation: a net.Conn over the descriptor itself, in the runtime's
// poller like any socket, with deadlines. Its errors are *net.OpError, as
// a *net.TCPConn's are. It is not a *net.TCPConn: socket options are set
// through SyscallConn (which is also how it moves on at the next upgrade).
type movedConn struct {
	f             *os.File
	local, remote net.Addr
}

func (c *movedConn) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	return n, c.opError("read", err)
}

func (c *movedConn) Write(p []byte) (int, error) {
	n, err := c.f.Write(p)
	return n, c.opError("write", err)
}

func (c *movedConn) Close() error { return c.opError("close", c.f.Close()) }

func (c *movedConn) LocalAddr() net.Addr  { return c.local }
func (c *movedConn) RemoteAddr() net.Addr { return c.remote }

func (c *movedConn) SetDeadline(t time.Time) error {
	return c.opError("set deadline", c.f.SetDeadline(t))
}

func (c *movedConn) SetReadDeadline(t time.Time) error {
	return c.opError("set read deadline", c.f.SetReadDeadline(t))
}

func (c *movedConn) SetWriteDeadline(t time.Time) error {
	return c.opError("set write deadline", c.f.SetWriteDeadline(t))
}

// SyscallConn reaches the socket, as a *net.TCPConn's does.
func (c *movedConn) SyscallConn() (syscall.RawConn, error) { return c.f.SyscallConn() }

// CloseWrite shuts down the sending side (net/http does before it closes a
// connection it answered with an error).
func (c *movedConn) CloseWrite() error { return c.shutdown("close write", unix.SHUT_WR) }

// CloseRead shuts down the receiving side.
func (c *movedConn) CloseRead() error { return c.shutdown("close read", unix.SHUT_RD) }

// Moved reports true: the inbox and httpdrain tell a moved idle
// keep-alive connection from a new one by it.
func (c *movedConn) Moved() bool { return true }

func (c *movedConn) shutdown(op string, how int) error {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return c.opError(op, err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Shutdown(int(fd), how) }); err != nil {
		return c.opError(op, err)
	}
	return c.opError(op, os.NewSyscallError("shutdown", serr))
}

// opError turns an *os.File error into what the same call on a net.Conn
// returns: io.EOF as it is, a closed file as net.ErrClosed, the rest in a
// *net.OpError (a deadline still matches os.ErrDeadlineExceeded).
func (c *movedConn) opError(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	if pe, ok := errors.AsType[*os.PathError](err); ok {
		err = pe.Err
	}
	if errors.Is(err, os.ErrClosed) {
		err = net.ErrClosed
	}
	return &net.OpError{Op: op, Net: c.local.Network(), Source: c.local, Addr: c.remote, Err: err}
}
