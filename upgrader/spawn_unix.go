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

// startChild makes a socketpair, starts the next generation with one end
// as an inherited fd named in HANDOFF_FD, and returns our end.
func (u *Upgrader) startChild() (*exec.Cmd, *net.UnixConn, error) {
	fds, err := socketpair()
	if err != nil {
		return nil, nil, err
	}
	ours := os.NewFile(uintptr(fds[0]), "handoff-parent")
	theirs := os.NewFile(uintptr(fds[1]), "handoff-child")
	defer ours.Close()
	defer theirs.Close()
	cmd, err := u.command()
	if err != nil {
		return nil, nil, fmt.Errorf("build command: %w", err)
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, theirs)
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	fd := 2 + len(cmd.ExtraFiles) // ExtraFiles[i] becomes fd 3+i
	cmd.Env = append(withoutEnv(cmd.Env, wire.EnvFD), wire.EnvFD+"="+strconv.Itoa(fd))
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	conn, err := unixConn(ours)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, nil, err
	}
	return cmd, conn, nil
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

// inheritedConn returns the control connection a parent passed in
// HANDOFF_FD; found is false when there is none. The variable is unset so
// that our own children never see it.
func inheritedConn() (c *net.UnixConn, found bool, err error) {
	v, ok := os.LookupEnv(wire.EnvFD)
	if !ok {
		return nil, false, nil
	}
	os.Unsetenv(wire.EnvFD)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, true, fmt.Errorf("upgrader: %s=%q is not an inherited fd number", wire.EnvFD, v)
	}
	f := os.NewFile(uintptr(fd), "handoff-child")
	defer f.Close()
	unix.CloseOnExec(fd)
	c, err = unixConn(f)
	if err != nil {
		return nil, true, fmt.Errorf("upgrader: %s=%d: %w", wire.EnvFD, fd, err)
	}
	return c, true, nil
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
