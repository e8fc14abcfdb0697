package upgrader

import (
	"context"
	"errors"
	"os"
	"os/exec"

	"github.com/handoff-go/handoff/internal/wire"
)

// upgrade runs one child-mode upgrade and returns the new pid.
func (u *Upgrader) upgrade(ctx context.Context, report reporter) (int, error) {
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
