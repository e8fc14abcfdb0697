//go:build unix && !aix

package listeners

import "golang.org/x/sys/unix"

// dupFD returns a close-on-exec duplicate of fd, owned by the caller.
// F_DUPFD_CLOEXEC sets the flag atomically, so a concurrent fork+exec
// elsewhere in the process cannot leak the dup into a child.
func dupFD(fd int) (int, error) {
	return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
}
