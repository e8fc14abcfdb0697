//go:build unix

package httpdrain

import (
	"io"
	"net"
	"syscall"
)

// readWaiting reads what is already queued in c's receive buffer, without
// waiting for more: a request that reached the kernel just before the drain
// judged c idle is handed to the server instead of being reset. It returns
// io.EOF if the peer has closed, and another error if nothing is queued or
// c has no descriptor to read from.
func readWaiting(c net.Conn, p []byte) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, errNoDescriptor
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		n, rerr = readNoEINTR(int(fd), p)
		return true // never wait for readiness: only what is queued now counts
	})
	switch {
	case err != nil:
		return 0, err
	case rerr != nil:
		return 0, rerr
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return n, nil
}

func readNoEINTR(fd int, p []byte) (int, error) {
	for {
		n, err := syscall.Read(fd, p)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		return n, nil
	}
}
