//go:build linux

package harness

import (
	"errors"
	"fmt"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/proc"
	"github.com/handoff-go/handoff/internal/testutil"
)

// ErrNotYet is the cause Poll wraps when its condition never held.
var ErrNotYet = errors.New("condition not met")

// Poll calls cond every few milliseconds until it returns true or within
// has passed, then returns nil or an error wrapping ErrNotYet. Callers say
// in their own message what was still wrong.
func Poll(within time.Duration, cond func() bool) error {
	return testutil.Poll(within, func() error {
		if cond() {
			return nil
		}
		return ErrNotYet
	})
}

// Until calls cond every interval until it returns true (true) or the
// deadline passes (false): Poll for callers that need a finer pace or
// share one deadline between steps.
func Until(deadline time.Time, interval time.Duration, cond func() bool) bool {
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
}

// Earliest is the earlier of now+d and end.
func Earliest(d time.Duration, end time.Time) time.Time {
	if t := time.Now().Add(d); t.Before(end) {
		return t
	}
	return end
}

// WaitPID polls the pid file at path until ok accepts the pid it names,
// and returns that pid; on timeout, the error names the last pid read.
func WaitPID(path string, within time.Duration, ok func(pid int) bool) (int, error) {
	var last int
	err := Poll(within, func() bool {
		pid, found := proc.ReadPID(path)
		last = pid
		return found && ok(pid)
	})
	if err != nil {
		return last, fmt.Errorf("pid file %s: last pid %d: %w", path, last, err)
	}
	return last, nil
}
