//go:build unix

package upgrader

import (
	"errors"
	"os"
	"os/exec"
)

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
