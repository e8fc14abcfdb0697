//go:build linux

package harness

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// CrashAfterReady is the build flags of a bad build of examples/demo or
// e2e/cmd/tfdemo: one that exits with status 3 d after it said it was
// ready (their main.crashAfterReady knob). Use it as Target.Flags.
func CrashAfterReady(d time.Duration) []string {
	return []string{"-ldflags", "-X main.crashAfterReady=" + d.String()}
}

// ReplaceFile puts a copy of src at dst in one rename, as a deploy does: a
// process running dst keeps its image, and the next exec of dst runs
// src's. The copy is executable.
func ReplaceFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("replace %s: %w", dst, err)
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*")
	if err != nil {
		return fmt.Errorf("replace %s: %w", dst, err)
	}
	_, err = io.Copy(tmp, in)
	err = errors.Join(err, tmp.Chmod(0o755), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("replace %s: %w", dst, err)
	}
	return nil
}

// ExitWatch learns when a process exits through a pidfd, whether or not
// it is this process's child, without reaping it: the moment it is a
// zombie, not the next tick of a poll loop.
type ExitWatch struct {
	pid int
	fd  int // the pidfd; ExitWatch owns it, Close closes it
}

// WatchExit opens a watch on pid, which must still exist (a pid that is
// already gone is an error, not an exit).
func WatchExit(pid int) (*ExitWatch, error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	return &ExitWatch{pid: pid, fd: fd}, nil
}

// Wait blocks until the process has exited, or within has passed (an
// error wrapping ErrNotYet), and returns when the kernel said it exited.
func (w *ExitWatch) Wait(within time.Duration) (time.Time, error) {
	deadline := time.Now().Add(within)
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
	for {
		left := time.Until(deadline)
		if left < 0 {
			return time.Time{}, fmt.Errorf("pid %d still running after %v: %w", w.pid, within, ErrNotYet)
		}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return time.Time{}, fmt.Errorf("poll pidfd of %d: %w", w.pid, err)
		case n > 0:
			return time.Now(), nil
		}
	}
}

// Close releases the pidfd.
func (w *ExitWatch) Close() error { return unix.Close(w.fd) }
