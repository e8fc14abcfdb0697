//go:build unix

package upgrader

import (
	"errors"
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
	theirs := os.NewFile(uintptr(fds[1]), "handoff-next")
	defer theirs.Close()
	cmd.ExtraFiles = append(cmd.ExtraFiles, theirs)
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	fd := 2 + len(cmd.ExtraFiles) // ExtraFiles[i] becomes fd 3+i
	cmd.Env = append(withoutEnv(cmd.Env, wire.EnvFD), wire.EnvFD+"="+strconv.Itoa(fd))
	if err := cmd.Start(); err != nil {
		unix.Close(fds[0])
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	conn, err := socketFromFD(fds[0])
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

// socketFromFD makes a connection of fd, which it takes: fd is closed
// whatever happens (the connection holds a dup), and kept from our own
// children meanwhile.
func socketFromFD(fd int) (*net.UnixConn, error) {
	unix.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "handoff-socket")
	defer f.Close()
	c, err := net.FileConn(f)
	if uc, ok := c.(*net.UnixConn); ok {
		return uc, nil
	}
	if err == nil {
		c.Close()
		err = errors.New("not a Unix socket")
	}
	return nil, fmt.Errorf("control socket from fd %d: %w", fd, err)
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
