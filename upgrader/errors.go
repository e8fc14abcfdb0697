package upgrader

import (
	"errors"
	"fmt"

	"github.com/handoff-go/handoff/control"
)

// Errors a caller can branch on.
var (
	// ErrNotReady: an upgrade was asked for before Ready.
	ErrNotReady error = &codedError{"upgrader: not ready yet", control.CodeNotReady}
	// ErrUpgradeInProgress: another upgrade (or takeover) is running.
	ErrUpgradeInProgress error = &codedError{"upgrader: an upgrade is already in progress", control.CodeInProgress}
	// ErrHandedOver: this process has already handed its sockets on.
	ErrHandedOver error = &codedError{"upgrader: already handed over to the next generation", control.CodeHandedOver}
	// ErrStopped: Stop was called.
	ErrStopped error = &codedError{"upgrader: stopped", control.CodeStopping}
	// ErrTooManyDraining: MaxDraining older generations are still draining.
	ErrTooManyDraining error = &codedError{"upgrader: too many generations still draining", control.CodeTooManyDraining}
	// ErrNotSupported: the platform cannot pass sockets between processes.
	ErrNotSupported error = &codedError{"upgrader: upgrades are not supported on this platform", control.CodeUnsupported}
	// ErrRolledBack: the new process became ready, then died or gave the
	// service back during probation; this process serves again.
	ErrRolledBack error = &codedError{"upgrader: rolled back", control.CodeRolledBack}
	// ErrOnProbation: this process watches a successor on probation and
	// takes no upgrade or stop request; the successor does.
	ErrOnProbation error = &codedError{"upgrader: watching the new generation on probation", control.CodeOnProbation}
	// ErrNotOnProbation: GiveBack was called by a generation that nobody
	// watches (its probation is over, or there was none).
	ErrNotOnProbation = errors.New("upgrader: not on probation: nobody to give the service back to")
	// ErrAlreadyReady: Ready was called twice.
	ErrAlreadyReady = errors.New("upgrader: Ready already called")
	// ErrPIDFile: Ready could not write the pid file. This process serves
	// all the same; only the file is missing or stale.
	ErrPIDFile = errors.New("upgrader: serving, but the pid file was not written")
)

// codedError is a sentinel that a control client is told about by its
// result code: the code stands beside the error, in one place.
type codedError struct {
	msg  string
	code string // one of control's Code constants
}

func (e *codedError) Error() string { return e.msg }

// resultCode is the protocol's name for why a request failed: the code of
// the sentinel err wraps, or CodeFailed.
func resultCode(err error) string {
	var c *codedError
	if errors.As(err, &c) {
		return c.code
	}
	return control.CodeFailed
}

// UpgradeError reports a failed upgrade: the step that failed, the pid of
// the new process if one was started, and the cause.
type UpgradeError struct {
	Step string // "start", "handshake", "handover", "ready", ...
	PID  int    // the new process, 0 if none started
	Err  error
}

func (e *UpgradeError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("upgrader: upgrade failed at %s: %v", e.Step, e.Err)
	}
	return fmt.Sprintf("upgrader: upgrade failed at %s (new pid %d): %v", e.Step, e.PID, e.Err)
}

func (e *UpgradeError) Unwrap() error { return e.Err }

// ExitError is the cause when the new process exited before it was ready.
type ExitError struct {
	PID   int
	State string // as os.ProcessState describes it, e.g. "exit status 1"
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("new process %d exited before it was ready (%s)", e.PID, e.State)
}

// RollbackError reports an upgrade that rolled back: the new process was
// ready, then died, hung up or gave the service back on probation, and
// the old one (this process, or `handoff run`'s serving child) serves
// again. It wraps ErrRolledBack.
type RollbackError struct {
	PID    int    // the new process
	Reason string // what it did, e.g. "died (signal: killed)"
}

func (e *RollbackError) Error() string {
	return fmt.Sprintf("upgrader: rolled back: new pid %d %s on probation", e.PID, e.Reason)
}

func (e *RollbackError) Unwrap() error { return ErrRolledBack }
