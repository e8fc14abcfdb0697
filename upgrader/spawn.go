package upgrader

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"time"

	"github.com/handoff-go/handoff/internal/wire"
)

// exitGrace is how long a failed handoff waits for the child's exit status
// when the child hung up, so the error can say how it ended.
const exitGrace = 500 * time.Millisecond

// spawn starts the next generation as a child and hands the set over to
// it. On failure the child is killed and reaped; on success the returned
// connection stays open until this process stops.
func (u *Upgrader) spawn(ctx context.Context, draining []Peer, report reporter) (int, *wire.Conn, error) {
	cmd, raw, err := u.startChild()
	if err != nil {
		return 0, nil, &UpgradeError{Step: "start", Err: err}
	}
	pid := cmd.Process.Pid
	u.log.Info("new process started", "new_pid", pid)
	report.send(EventStarted, pid, "")
	exited := make(chan error, 1)
	go func() { exited <- exitCause(cmd, cmd.Wait()) }()

	c := wire.NewConn(raw)
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d.Add(backstop))
	}
	wd := startWatchdog(ctx, raw, exited)
	_, uerr := u.handOver(c, draining, report)
	cause := wd.finish()
	if uerr == nil {
		c.SetTimeout(0)
		return pid, c, nil
	}
	c.Close()
	uerr.PID = pid
	if cause == nil && errors.Is(uerr.Err, wire.ErrClosed) {
		cause, wd.exited = waitExit(exited, exitGrace)
	}
	if cause != nil {
		uerr.Err = cause
	}
	if !wd.exited {
		cmd.Process.Kill()
		<-exited
	}
	return pid, nil, uerr
}

func waitExit(exited <-chan error, grace time.Duration) (error, bool) {
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case err := <-exited:
		return err, true
	case <-t.C:
		return nil, false
	}
}

func exitCause(cmd *exec.Cmd, err error) error {
	var ee *exec.ExitError
	if err == nil || errors.As(err, &ee) {
		return &ExitError{PID: cmd.Process.Pid, State: cmd.ProcessState.String()}
	}
	return err
}

// command builds the command for the next generation.
func (u *Upgrader) command() (*exec.Cmd, error) {
	if u.opts.Command != nil {
		return u.opts.Command()
	}
	cmd := exec.Command(u.executable(), os.Args[1:]...)
	cmd.Args[0] = u.exe // what ps shows, even when started from the fallback
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return cmd, nil
}

// executable is the path to start the next generation from: the one this
// process was started from, where a deploy puts the new build. If nothing
// is there any more (deleted, not replaced: `go run` removes its temporary
// build once its child, the first generation, exits), the running image
// itself is started where the platform allows it.
func (u *Upgrader) executable() string {
	if _, err := os.Stat(u.exe); !errors.Is(err, os.ErrNotExist) {
		return u.exe
	}
	if self, ok := runningImage(); ok {
		u.log.Warn("executable is gone; starting the running image again", "path", u.exe)
		return self
	}
	return u.exe // exec fails and says so
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
