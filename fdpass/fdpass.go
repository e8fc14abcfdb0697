// Package fdpass passes open files between processes over a connected Unix
// stream socket, using handoff's control protocol: descriptors travel as
// SCM_RIGHTS in acknowledged batches of at most 252, every count is
// checked, and on any error every descriptor received so far is closed.
//
// It is the piece of handoff that moves descriptors, for programs that
// want to move their own (a helper that opens a privileged file for its
// parent, say). To restart a server, use package upgrader instead.
package fdpass

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/handoff-go/handoff/internal/wire"
)

// ioTimeout bounds each read and write of Send and Receive, so that a
// peer that stops answering fails the call instead of hanging it.
const ioTimeout = 10 * time.Second

// ErrNotSupported is returned on platforms without SCM_RIGHTS.
var ErrNotSupported = errors.ErrUnsupported

// Send passes files to the process at the other end of c, which must call
// Receive. Each file travels under its Name. The caller keeps ownership of
// files and c: Send closes neither. Each read and write on c gives up
// after 10 seconds.
func Send(c *net.UnixConn, files []*os.File) error {
	entries := make([]wire.Entry, len(files))
	fds := make([]int, len(files))
	for i, f := range files {
		entries[i] = wire.Entry{Name: f.Name(), Network: "file"}
		fd, err := rawFD(f)
		if err != nil {
			return fmt.Errorf("fdpass: send %s: %w", f.Name(), err)
		}
		fds[i] = fd
	}
	wc := wire.NewConn(c)
	wc.SetTimeout(ioTimeout)
	if err := wc.SendFiles(entries, fds); err != nil {
		return fmt.Errorf("fdpass: send: %w", err)
	}
	return nil
}

// Receive takes the files the peer passes with Send. The caller owns the
// returned files (each close-on-exec); c stays the caller's too. Each read
// and write on c gives up after 10 seconds.
func Receive(c *net.UnixConn) ([]*os.File, error) {
	wc := wire.NewConn(c)
	wc.SetTimeout(ioTimeout)
	entries, fds, err := wc.RecvFiles()
	if err != nil {
		return nil, fmt.Errorf("fdpass: receive: %w", err)
	}
	files := make([]*os.File, len(fds))
	for i, fd := range fds {
		files[i] = os.NewFile(uintptr(fd), entries[i].Name)
	}
	return files, nil
}

// rawFD reads f's descriptor without Fd, which would switch a pollable
// file to blocking mode.
func rawFD(f *os.File) (int, error) {
	sc, err := f.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	if err := sc.Control(func(p uintptr) { fd = int(p) }); err != nil {
		return -1, err
	}
	return fd, nil
}
