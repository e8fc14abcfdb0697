//go:build unix

package wire

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// maxFDsPerRead is the most fds one recvmsg can return (Linux SCM_MAX_FD).
// The out-of-band buffer has room for that many, so a peer that sends more
// than MaxFDsPerMessage is caught by the count checks, not by truncation.
const maxFDsPerRead = 253

func oobSize() int { return unix.CmsgSpace(maxFDsPerRead*4) + credSpace() }

// readMsg reads stream bytes into p and returns the fds that came with
// them, and the writer's credentials where SO_PASSCRED asked for them. The
// net package asks for MSG_CMSG_CLOEXEC where the kernel has it and sets
// close-on-exec itself elsewhere.
func readMsg(uc *net.UnixConn, p, oob []byte) (int, []int, Cred, error) {
	n, oobn, flags, _, err := uc.ReadMsgUnix(p, oob)
	// On error recvmsg's -1 can come through as a count.
	n, oobn = max(n, 0), max(oobn, 0)
	fds, from, perr := parseControl(oob[:oobn])
	if flags&unix.MSG_CTRUNC != 0 {
		closeFDs(fds)
		return n, nil, Cred{}, fmt.Errorf("%d bytes of control data filled the %d-byte buffer: %w",
			oobn, len(oob), ErrTruncated)
	}
	if perr != nil {
		closeFDs(fds)
		return n, nil, Cred{}, perr
	}
	return n, fds, from, err
}

// parseControl returns the fds of every SCM_RIGHTS message in oob and the
// credentials of an SCM_CREDENTIALS one. On a parse error it still returns
// the fds found before it, for closing.
func parseControl(oob []byte) ([]int, Cred, error) {
	var fds []int
	var from Cred
	for len(oob) > 0 {
		hdr, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return fds, from, fmt.Errorf("%w: parse control message: %w", ErrMalformed, err)
		}
		if hdr.Level == unix.SOL_SOCKET && hdr.Type == unix.SCM_RIGHTS {
			fds = appendRights(fds, hdr, data)
		} else if c, ok := parseCred(hdr, data); ok {
			from = c
		}
		oob = rest
	}
	return fds, from, nil
}

func appendRights(fds []int, hdr unix.Cmsghdr, data []byte) []int {
	got, err := unix.ParseUnixRights(&unix.SocketControlMessage{Header: hdr, Data: data})
	if err != nil {
		// Only a data length that is not a multiple of 4 fails, and the
		// kernel never builds one.
		return fds
	}
	return append(fds, got...)
}

// writeMsg writes b with fds attached to its first byte.
func writeMsg(uc *net.UnixConn, b []byte, fds []int) error {
	if len(fds) == 0 {
		_, err := uc.Write(b)
		return err
	}
	n, _, err := uc.WriteMsgUnix(b, unix.UnixRights(fds...), nil)
	if err != nil {
		return err
	}
	// A full stream socket may take only part of the frame; the fds went
	// with the first part and the rest follows as plain bytes.
	if n < len(b) {
		_, err = uc.Write(b[n:])
	}
	return err
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		_ = unix.Close(fd)
	}
}

// withFD runs f on the socket's fd without Fd() or File(), which would put
// the socket into blocking mode.
func withFD(uc *net.UnixConn, f func(fd int) error) error {
	rc, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}
