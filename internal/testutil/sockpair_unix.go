//go:build unix

package testutil

import (
	"net"
	"os"
	"syscall"
	"testing"
)

// SocketPair returns the two ends of a connected AF_UNIX stream socket
// pair, closed at cleanup.
func SocketPair(t testing.TB) (a, b *net.UnixConn) {
	t.Helper()
	syscall.ForkLock.RLock() // no exec may inherit the fds before they are close-on-exec
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	return FileUnixConn(t, fds[0]), FileUnixConn(t, fds[1])
}

// FileUnixConn makes a *net.UnixConn, closed at cleanup, of fd, a Unix
// socket, which it closes: net.FileConn works on a dup.
func FileUnixConn(t testing.TB, fd int) *net.UnixConn {
	t.Helper()
	f := os.NewFile(uintptr(fd), "socketpair")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatalf("FileConn: %v", err)
	}
	uc := c.(*net.UnixConn)
	t.Cleanup(func() { uc.Close() })
	return uc
}
