package wire

import (
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// peerCred reads SO_PEERCRED: the credentials the peer had when it
// connected (or called socketpair), which it cannot forge afterwards.
func peerCred(uc *net.UnixConn) (Cred, error) {
	var u *unix.Ucred
	err := withFD(uc, func(fd int) (err error) {
		u, err = unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
		return os.NewSyscallError("getsockopt SO_PEERCRED", err)
	})
	if err != nil {
		return Cred{}, err
	}
	return Cred{PID: int(u.Pid), UID: int(u.Uid), GID: int(u.Gid)}, nil
}
