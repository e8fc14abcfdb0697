//go:build unix && !(linux || freebsd || netbsd || openbsd || dragonfly)

package wire

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// socketpair makes an AF_UNIX stream socketpair. Without SOCK_CLOEXEC,
// ForkLock keeps a concurrent fork from inheriting it before
// close-on-exec is set.
func socketpair() ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fds[0])
		unix.CloseOnExec(fds[1])
	}
	return fds, err
}
