package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"

	"github.com/handoff-go/handoff/control"
	"github.com/handoff-go/handoff/internal/procfs"
	"github.com/handoff-go/handoff/upgrader"
)

// selfExe starts the shim: the running image of this very binary, so the
// shim always speaks this supervisor's version of the hidden command.
const selfExe = "/proc/self/exe"

// lookProgram resolves PROGRAM as a shell would, at every start, so that a
// deploy that replaced the file is what the next child runs.
func lookProgram(program string) (string, error) {
	path, err := exec.LookPath(program)
	if err != nil {
		return "", fmt.Errorf("PROGRAM %q: %w", program, err)
	}
	return path, nil
}

// start starts one child: the shim, which sets LISTEN_PID and execs
// PROGRAM with the sockets as fds 3 onward, stdin /dev/null, and the
// supervisor's stdout and stderr. The child leads its own process group,
// and its generation gets a cgroup of its own where the supervisor can
// make one.
func (s *supervisor) start() (*child, error) {
	path, err := lookProgram(s.cfg.program)
	if err != nil {
		return nil, err
	}
	argv := append([]string{"handoff-run-exec", shimCommand, path, s.cfg.program}, s.cfg.args...)
	files := []uintptr{s.devNull.Fd(), 1, 2}
	for _, sk := range s.socks {
		files = append(files, uintptr(sk.fd))
	}
	cg := s.newGroup()
	s.mu.Lock() // the child must be in the map before it can notify or be reaped
	defer s.mu.Unlock()
	attr := &syscall.ProcAttr{Env: s.env, Files: files, Sys: &syscall.SysProcAttr{Setpgid: true}}
	if cg != nil {
		attr.Sys.UseCgroupFD, attr.Sys.CgroupFD = true, cg.fd
	}
	pid, err := syscall.ForkExec(selfExe, argv, attr)
	if err != nil && cg != nil {
		s.log.Warn("cannot start a child in a cgroup of its own; tracking it through /proc", "cgroup", cg.dir, "err", err)
		cg.remove()
		cg, attr.Sys.UseCgroupFD = nil, false
		pid, err = syscall.ForkExec(selfExe, argv, attr)
	}
	if err != nil {
		if cg != nil {
			cg.remove()
		}
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	st, _ := procfs.ReadStat(pid) // not reaped yet, so it is there
	c := newChild(pid, st.Start, cg)
	s.children[pid], s.gens[c] = c, true
	select {
	case s.kick <- struct{}{}:
	default:
	}
	if s.cfg.readyAfter > 0 {
		t := time.AfterFunc(s.cfg.readyAfter, c.markReady)
		go func() { <-c.done; t.Stop() }()
	}
	s.log.Info("child started", "child", pid, "program", path)
	return c, nil
}

// newGroup makes the next generation's cgroup, or returns nil when the
// supervisor has none to make them in.
func (s *supervisor) newGroup() *cgroupGroup {
	if s.cgroups == nil {
		return nil
	}
	s.mu.Lock()
	s.generations++
	name := fmt.Sprintf("%s%d.%d", groupPrefix, s.self, s.generations)
	s.mu.Unlock()
	cg, err := s.cgroups.newGroup(name)
	if err != nil {
		s.log.Warn("cannot make a cgroup for the next child; tracking it through /proc", "err", err)
		return nil
	}
	return cg
}

// childReaped forgets c as the serving child; if it was, serve hears of it.
func (s *supervisor) childReaped(c *child) {
	s.mu.Lock()
	serving := s.serving == c
	if serving {
		s.serving = nil
	}
	s.mu.Unlock()
	level := "child exited"
	if c.status.Exited() && c.status.ExitStatus() == 0 {
		s.log.Info(level, "child", c.pid, "how", exitStatus(c.status))
	} else {
		s.log.Warn(level, "child", c.pid, "how", exitStatus(c.status))
	}
	if serving {
		select {
		case s.lost <- c:
		default:
		}
	}
}

// startReady starts a child and waits until it is ready and, for -settle,
// still running. On failure the child is killed and reaped, and the error
// says why (*upgrader.UpgradeError).
func (s *supervisor) startReady(ctx context.Context, progress func(string, int, string)) (*child, error) {
	c, err := s.start()
	if err != nil {
		return nil, &upgrader.UpgradeError{Step: "start", Err: err}
	}
	progress(control.EventStarted, c.pid, "")
	if err := s.awaitReady(ctx, c); err != nil {
		s.kill(c)
		s.log.Warn("new child failed", "child", c.pid, "err", err)
		return c, &upgrader.UpgradeError{Step: "ready", PID: c.pid, Err: err}
	}
	s.log.Info("child ready", "child", c.pid)
	progress(control.EventReady, c.pid, "")
	return c, nil
}

func (s *supervisor) awaitReady(ctx context.Context, c *child) error {
	select {
	case <-c.ready:
	case <-c.done:
		return c.exitError("before it was ready")
	case <-ctx.Done():
		return ctxReason(ctx, c.pid, "ready")
	}
	if s.cfg.settle <= 0 {
		return nil
	}
	t := time.NewTimer(s.cfg.settle)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.done:
		return c.exitError(fmt.Sprintf("within -settle %v after it was ready", s.cfg.settle))
	case <-ctx.Done():
		return ctxReason(ctx, c.pid, "settled")
	}
}

func ctxReason(ctx context.Context, pid int, what string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("new process %d not %s in time (-upgrade-timeout): %w", pid, what, ctx.Err())
	}
	return fmt.Errorf("new process %d abandoned before it was %s: %w", pid, what, ctx.Err())
}
