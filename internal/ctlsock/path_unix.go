//go:build unix

package ctlsock

import (
	"fmt"
	"net"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// MaxPathLen is the longest path a Unix socket can have here: sun_path
// less the NUL.
const MaxPathLen = len(unix.RawSockaddrUnix{}.Path) - 1

// CheckPath refuses a control socket path no Unix socket can have, naming
// the limit: the kernel's own answer is a bare EINVAL.
func CheckPath(path string) error {
	if len(path) > MaxPathLen {
		return fmt.Errorf("control socket path %q is %d bytes; a Unix socket path may have at most %d on %s",
			path, len(path), MaxPathLen, runtime.GOOS)
	}
	if strings.HasPrefix(path, "@") && runtime.GOOS != "linux" {
		return fmt.Errorf("control socket %q: abstract socket names exist only on Linux", path)
	}
	return nil
}

// PeerGone reports whether the client at the other end of uc has hung up
// (closed, or shut down its writing side): a read would see EOF or a
// reset at once. It reads nothing: it peeks, without waiting. A server
// asks it after reading a request, before carrying the request out, so
// that a client that gave up waiting is not answered by an upgrade it was
// told nothing about.
func PeerGone(uc *net.UnixConn) bool {
	rc, err := uc.SyscallConn()
	if err != nil {
		return true
	}
	gone := false
	cerr := rc.Control(func(fd uintptr) {
		var b [1]byte
		for {
			n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
			if err == unix.EINTR {
				continue
			}
			gone = (err == nil && n == 0) || (err != nil && err != unix.EAGAIN && err != unix.EWOULDBLOCK)
			return
		}
	})
	return gone || cerr != nil
}
