//go:build darwin || freebsd

package wire

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// xucredVersion is XUCRED_VERSION from <sys/ucred.h>.
const xucredVersion = 0

// peerCred reads LOCAL_PEERCRED, the BSD form of SO_PEERCRED: the
// credentials the peer had when it connected.
func peerCred(uc *net.UnixConn) (Cred, error) {
	var cred Cred
	err := withFD(uc, func(fd int) error {
		x, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
		if err != nil {
			return os.NewSyscallError("getsockopt LOCAL_PEERCRED", err)
		}
		if x.Version != xucredVersion || x.Ngroups < 1 {
			return fmt.Errorf("LOCAL_PEERCRED: unexpected xucred version %d with %d groups",
				x.Version, x.Ngroups)
		}
		// The first group of an xucred is the effective gid.
		cred = Cred{UID: int(x.Uid), GID: int(x.Groups[0])}
		cred.PID, err = peerPID(fd)
		return err
	})
	return cred, err
}
