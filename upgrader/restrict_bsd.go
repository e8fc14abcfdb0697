//go:build unix && !linux

package upgrader

import (
	"os"

	"golang.org/x/sys/unix"
)

// restrictSocketFile sets mode 0600 on the socket file this process just
// bound at path, without following a symlink put in its place.
func restrictSocketFile(path string) error {
	return os.NewSyscallError("chmod "+path, unix.Fchmodat(unix.AT_FDCWD, path, 0o600, unix.AT_SYMLINK_NOFOLLOW))
}
