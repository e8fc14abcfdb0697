//go:build unix

package upgrader

import (
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// checkControlPath refuses, before anything starts, a control path no
// Unix socket can have: the kernel's own error is a bare EINVAL.
func checkControlPath(path string) error {
	if path == "" {
		return nil
	}
	limit := len(unix.RawSockaddrUnix{}.Path) - 1 // room for the NUL
	if len(path) > limit {
		return fmt.Errorf("upgrader: control socket path %q is %d bytes; a Unix socket path may have at most %d on %s",
			path, len(path), limit, runtime.GOOS)
	}
	if strings.HasPrefix(path, "@") && runtime.GOOS != "linux" {
		return fmt.Errorf("upgrader: control socket %q: abstract socket names exist only on Linux", path)
	}
	return nil
}
