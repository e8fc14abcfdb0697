//go:build !linux && !darwin && !freebsd

package wire

import (
	"errors"
	"fmt"
	"net"
	"runtime"
)

// peerCred is unsupported here: x/sys/unix offers no peer-credential
// call for this platform.
func peerCred(*net.UnixConn) (Cred, error) {
	return Cred{}, fmt.Errorf("peer credentials on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
