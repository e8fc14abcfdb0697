package upgrader

import (
	"context"
	"errors"
	"os/exec"

	"github.com/handoff-go/handoff/internal/wire"
)

// upgrade runs one upgrade and returns the new pid: a child-mode handoff,
// or the caller's replacement (Options.Replace).
func (u *Upgrader) upgrade(ctx context.Context, report reporter) (int, error) {
	if u.opts.Replace != nil {
		return u.replace(ctx, report)
	}
	return u.handOff(ctx, "upgrade", u.spawn, report)
}

// spawn starts the next generation as a child, with one end of a
// socketpair inherited as HANDOFF_FD, and watches for its exit.
func (u *Upgrader) spawn(context.Context) (*nextGen, error) {
	cmd, raw, err := u.startChild()
	if err != nil {
		return nil, &UpgradeError{Step: "start", Err: err}
	}
	pid := cmd.Process.Pid
	u.log.Info("new process started", "new_pid", pid)
	exited := make(chan error, 1)
	go func() { exited <- exitCause(cmd, cmd.Wait()) }()
	kill := func() {
		cmd.Process.Kill()
		<-exited
	}
	return &nextGen{conn: wire.NewConn(raw), pid: pid, exited: exited, kill: kill}, nil
}

func exitCause(cmd *exec.Cmd, err error) error {
	var ee *exec.ExitError
	if err == nil || errors.As(err, &ee) {
		return &ExitError{PID: cmd.Process.Pid, State: cmd.ProcessState.String()}
	}
	return err
}
