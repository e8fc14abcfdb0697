//go:build unix

package upgrader

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"github.com/handoff-go/handoff/internal/wire"
	"golang.org/x/sys/unix"
)

// startWithSocket starts cmd with one end of a fresh socketpair as an
// inherited fd named in HANDOFF_FD, and returns the other end.
func startWithSocket(cmd *exec.Cmd) (*net.UnixConn, error) {
	fds, err := socketpair()
	if err != nil {
		return nil, err
	}
	ours := os.NewFile(uintptr(fds[0]), "handoff-prev")
	theirs := os.NewFile(uintptr(fds[1]), "handoff-next")
	defer ours.Close()
	defer theirs.Close()
	cmd.ExtraFiles = append(cmd.ExtraFiles, theirs)
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	fd := 2 + len(cmd.ExtraFiles) // ExtraFiles[i] becomes fd 3+i
	cmd.Env = append(withoutEnv(cmd.Env, wire.EnvFD), wire.EnvFD+"="+strconv.Itoa(fd))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	conn, err := unixConn(ours)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	return conn, nil
}

// withoutEnv returns env without the variables named key.
func withoutEnv(env []string, key string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if len(kv) > len(key) && kv[:len(key)] == key && kv[len(key)] == '=' {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// socketFromFD makes a connection of fd, an inherited socket, which it
// takes: fd is closed whatever happens, and kept from our own children.
func socketFromFD(fd int) (*net.UnixConn, error) {
	f := os.NewFile(uintptr(fd), "handoff-prev")
	defer f.Close()
	unix.CloseOnExec(fd)
	return unixConn(f)
}

// unixConn makes a *net.UnixConn from a dup of f; f stays the caller's.
func unixConn(f *os.File) (*net.UnixConn, error) {
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("control socket from fd %s: %w", f.Name(), err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("control socket from fd %s: not a Unix socket", f.Name())
	}
	return uc, nil
}

// socketpair makes a close-on-exec AF_UNIX stream pair. SOCK_CLOEXEC is not
// portable (macOS lacks it), so the flag is set under ForkLock instead: no
// fork can slip between the two calls and leak the fds into a child.
func socketpair() ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return fds, fmt.Errorf("socketpair: %w", err)
	}
	unix.CloseOnExec(fds[0])
	unix.CloseOnExec(fds[1])
	return fds, nil
}
