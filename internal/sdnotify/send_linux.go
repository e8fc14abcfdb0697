//go:build linux

package sdnotify

import (
	"fmt"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// writeTimeout bounds a send to a service manager whose queue is full,
// so that a stuck manager cannot stall the caller.
const writeTimeout = 5 * time.Second

// send sends b with the descriptors of files attached.
func send(addr string, b []byte, files []*os.File) error {
	fds, err := rawFDs(files)
	if err != nil {
		return err
	}
	err = sendFDs(addr, b, fds)
	runtime.KeepAlive(files) // their descriptors stay open until sent
	return err
}

// sendFDs sends one datagram from a socket of its own, as sd_notify does.
// The socket blocks, for at most writeTimeout, while the receiver's queue
// is full.
func sendFDs(addr string, b []byte, fds []int) error {
	s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	defer unix.Close(s)
	tv := unix.NsecToTimeval(writeTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(s, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		return os.NewSyscallError("setsockopt SO_SNDTIMEO", err)
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	// x/sys/unix turns a leading "@" into the abstract namespace's NUL.
	to := &unix.SockaddrUnix{Name: addr}
	return os.NewSyscallError("sendmsg", unix.Sendmsg(s, b, oob, to, unix.MSG_NOSIGNAL))
}

// rawFDs reads each file's descriptor without Fd, which would switch a
// pollable file to blocking mode.
func rawFDs(files []*os.File) ([]int, error) {
	fds := make([]int, len(files))
	for i, f := range files {
		sc, err := f.SyscallConn()
		if err == nil {
			err = sc.Control(func(fd uintptr) { fds[i] = int(fd) })
		}
		if err != nil {
			return nil, fmt.Errorf("descriptor of %s: %w", f.Name(), err)
		}
	}
	return fds, nil
}
