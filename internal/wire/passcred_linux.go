package wire

import (
	"os"

	"golang.org/x/sys/unix"
)

// passCred turns on SO_PASSCRED: every read then carries SCM_CREDENTIALS
// naming the process that wrote its bytes. The kernel checks what a sender
// claims (only a privileged one can name another pid), and never joins the
// bytes of two writers in one read.
func passCred(fd int) error {
	return os.NewSyscallError("setsockopt SO_PASSCRED", unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_PASSCRED, 1))
}

func credSpace() int { return unix.CmsgSpace(unix.SizeofUcred) }

func parseCred(hdr unix.Cmsghdr, data []byte) (Cred, bool) {
	if hdr.Level != unix.SOL_SOCKET || hdr.Type != unix.SCM_CREDENTIALS {
		return Cred{}, false
	}
	u, err := unix.ParseUnixCredentials(&unix.SocketControlMessage{Header: hdr, Data: data})
	if err != nil {
		return Cred{}, false
	}
	return Cred{PID: int(u.Pid), UID: int(u.Uid), GID: int(u.Gid)}, true
}
