//go:build unix

package testutil

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

// SocketPair returns the two ends of a connected Unix stream socket,
// closed at cleanup. Its socket file is gone by the time it returns.
func SocketPair(t testing.TB) (a, b *net.UnixConn) {
	t.Helper()
	addr := &net.UnixAddr{Name: filepath.Join(ShortDir(t), "pair"), Net: "unix"}
	ln, err := net.ListenUnix("unix", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if a, err = net.DialUnix("unix", nil, addr); err == nil {
		t.Cleanup(func() { a.Close() })
		b, err = ln.AcceptUnix()
	}
	if err != nil {
		t.Fatalf("connect a socket pair: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return a, b
}

// FileUnixConn makes a *net.UnixConn, closed at cleanup, of fd, a Unix
// socket, which it closes: net.FileConn works on a dup.
func FileUnixConn(t testing.TB, fd int) *net.UnixConn {
	t.Helper()
	f := os.NewFile(uintptr(fd), "socket")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatalf("FileConn: %v", err)
	}
	uc := c.(*net.UnixConn)
	t.Cleanup(func() { uc.Close() })
	return uc
}
