//go:build aix

package listeners

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// dupFD returns a close-on-exec duplicate of fd, owned by the caller. AIX
// has no F_DUPFD_CLOEXEC; holding ForkLock keeps os/exec from forking
// between the dup and setting the flag.
func dupFD(fd int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD, 0)
	if err != nil {
		return -1, err
	}
	unix.CloseOnExec(nfd)
	return nfd, nil
}
