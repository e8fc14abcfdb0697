//go:build !unix

package ctlsock

import (
	"fmt"
	"net"
)

// MaxPathLen: sun_path on Windows, less the NUL.
const MaxPathLen = 107

// CheckPath refuses a path longer than MaxPathLen.
func CheckPath(path string) error {
	if len(path) > MaxPathLen {
		return fmt.Errorf("control socket path %q is %d bytes; a Unix socket path may have at most %d", path, len(path), MaxPathLen)
	}
	return nil
}

// PeerGone cannot peek here; it says the client is there.
func PeerGone(*net.UnixConn) bool { return false }
