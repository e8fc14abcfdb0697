package wire

import (
	"os"

	"golang.org/x/sys/unix"
)

// peerPID reads LOCAL_PEERPID, which xucred lacks on darwin.
func peerPID(fd int) (int, error) {
	pid, err := unix.GetsockoptInt(fd, unix.SOL_LOCAL, unix.LOCAL_PEERPID)
	return pid, os.NewSyscallError("getsockopt LOCAL_PEERPID", err)
}
