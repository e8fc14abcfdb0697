package testutil

import (
	"fmt"
	"net"
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
