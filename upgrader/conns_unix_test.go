//go:build linux

package upgrader

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestConnFromFD takes a descriptor of a live connection (a dup, as a
// received one is: same open file description, non-blocking) and checks
// that the connection it makes reads the socket's bytes, honours
// deadlines (so the descriptor is non-blocking and in the poller), errs as
// a net.Conn does (a timeout is a net.Error, a peer's close io.EOF, a
// closed conn net.ErrClosed), and owns the descriptor: closing the
// connection closes it.
func TestConnFromFD(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	served, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer served.Close()
	fd := dupConnFD(t, served)

	c, err := connFromFD(fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.RemoteAddr().String() != client.LocalAddr().String() || c.LocalAddr().String() != client.RemoteAddr().String() {
		t.Errorf("addresses %v -> %v; want the client's %v -> %v", c.LocalAddr(), c.RemoteAddr(),
			client.RemoteAddr(), client.LocalAddr())
	}
	if m, ok := c.(interface{ Moved() bool }); !ok || !m.Moved() {
		t.Errorf("a %T that does not report Moved; want a moved connection", c)
	}

	done := make(chan error, 1)
	go func() {
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		done <- err
	}()
	select {
	case err := <-done:
		var ne net.Error
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("read with a deadline and nothing sent: %v (%T); want a net.Error timeout", err, err)
		}
	case <-time.After(5 * time.Second):
		c.Close()
		t.Fatal("a read with a 50 ms deadline still blocks after 5 s: the descriptor is blocking, outside the poller")
	}

	if _, err := client.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 5)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v; want hello", got, err)
	}
	if _, err := c.Write([]byte("back")); err != nil {
		t.Fatal(err)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(client, got[:4]); err != nil || string(got[:4]) != "back" {
		t.Fatalf("the client read %q, %v; want back", got[:4], err)
	}
	if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	if n, err := client.Read(got); err != io.EOF {
		t.Errorf("the client read %d bytes, %v after CloseWrite; want io.EOF", n, err)
	}
	client.Close()
	if _, err := c.Read(got); err != io.EOF {
		t.Errorf("read after the peer closed: %v; want io.EOF", err)
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); !errors.Is(err, unix.EBADF) {
		t.Errorf("fd %d still open after closing its connection (fcntl: %v)", fd, err)
	}
	if _, err := c.Read(got); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after Close: %v; want net.ErrClosed", err)
	}
}

// TestConnFromFDRefuses: descriptors that are no connection are closed
// with an error that says what they are.
func TestConnFromFDRefuses(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[1])
	if _, err := connFromFD(p[0], nil); err == nil {
		t.Error("connFromFD(a pipe): no error")
	}
	unconnected, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := connFromFD(unconnected, nil); err == nil {
		t.Error("connFromFD(an unconnected TCP socket): no error")
	}
	for _, fd := range []int{p[0], unconnected} {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); !errors.Is(err, unix.EBADF) {
			t.Errorf("fd %d still open after a refusal (fcntl: %v); want it closed", fd, err)
		}
	}
}

// dupConnFD returns a new descriptor of c's socket.
func dupConnFD(t *testing.T, c net.Conn) int {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	var derr error
	if err := rc.Control(func(raw uintptr) { fd, derr = unix.FcntlInt(raw, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		t.Fatal(err)
	}
	if derr != nil {
		t.Fatal(derr)
	}
	return fd
}
