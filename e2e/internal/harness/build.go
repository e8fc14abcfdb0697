//go:build linux

package harness

import (
	"context"
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

// Target is one binary to build: `go build [Flags...] -o Out Pkg`.
type Target struct {
	Out   string
	Pkg   string
	Flags []string // e.g. "-ldflags", "-X main.x=y"
}

// Build builds every target, one after another. Call it before the
// reaper starts: it waits for `go build` itself, which the reaper would
// race. Cancelling ctx kills a build's whole process group (compiler and
// linker too), so that none writes into Out's directory after it is
// removed.
func Build(ctx context.Context, targets ...Target) error {
	for _, t := range targets {
		args := append(append([]string{"build"}, t.Flags...), "-o", t.Out, t.Pkg)
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = 5 * time.Second
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", t.Pkg, err, out)
		}
	}
	return nil
}
