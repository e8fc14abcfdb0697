package testutil

import (
	"fmt"
	"net"
	"testing"
)

// FreeAddr returns a loopback TCP address that was free a moment ago, for
// a process that must bind it itself. It does not touch a testing.T, so
// that the bench, which is no test, may use it too.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// StaleSocket leaves a Unix socket file at path that nobody listens on,
// as a server that crashed would.
func StaleSocket(t testing.TB, path string) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
}
