//go:build linux

package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/proc"
)

// Cmd is a process to start.
type Cmd struct {
	Path  string
	Args  []string
	Log   string              // stdout and stderr are appended to this file
	Env   []string            // added to this process's environment
	Group bool                // lead a new process group (later generations inherit it)
	Cred  *syscall.Credential // run as another user; nil: as this one
	Files []*os.File          // inherited as fd 3, 4, ...
}

// Start starts c and leaves its exit status to r: once a reaper runs,
// nothing else may wait for children.
func Start(r *proc.Reaper, c Cmd) (pid int, err error) {
	logf, err := os.OpenFile(c.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	cmd := exec.Command(c.Path, c.Args...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = c.Files
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: c.Group, Credential: c.Cred}
	if pid, err = r.Start(cmd); err != nil {
		return 0, fmt.Errorf("start %s: %w", filepath.Base(c.Path), err)
	}
	return pid, nil
}

// KillGroup SIGKILLs process group pgid and waits up to within until none
// of its processes runs; the error lists those that still do.
func KillGroup(pgid int, within time.Duration) error {
	syscall.Kill(-pgid, syscall.SIGKILL)
	if err := Poll(within, func() bool { return len(proc.GroupMembers(pgid)) == 0 }); err != nil {
		return fmt.Errorf("processes %v of group %d outlived SIGKILL: %w", proc.GroupMembers(pgid), pgid, err)
	}
	return nil
}

// WaitExit waits up to within until r has reaped pid, and returns how it
// ended.
func WaitExit(r *proc.Reaper, pid int, within time.Duration) (proc.Exit, error) {
	var rec proc.Exit
	err := Poll(within, func() bool {
		var ok bool
		rec, ok = r.Exited(pid)
		return ok
	})
	if err != nil {
		return rec, fmt.Errorf("pid %d not reaped (alive=%v): %w", pid, proc.Alive(pid), err)
	}
	return rec, nil
}
