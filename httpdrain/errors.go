package httpdrain

import (
	"errors"
	"fmt"
)

// ErrDraining is returned by Serve and ServeTLS once Drain has started.
var ErrDraining = errors.New("httpdrain: server is draining")

// ErrDeadline is the cause in a CutError when Options.Deadline ended the
// drain (as opposed to the caller's context).
var ErrDeadline = errors.New("httpdrain: drain deadline reached")

// CutError reports a drain that ended with connections still open: they
// were closed, and whatever they carried was lost.
type CutError struct {
	Conns int   // connections closed by force, tracked ones included
	Cause error // ErrDeadline, or the cause of the context passed to Drain
}

func (e *CutError) Error() string {
	noun := "connections"
	if e.Conns == 1 {
		noun = "connection"
	}
	if errors.Is(e.Cause, ErrDeadline) {
		return fmt.Sprintf("httpdrain: drain: %d %s cut at deadline", e.Conns, noun)
	}
	return fmt.Sprintf("httpdrain: drain: %d %s cut: %v", e.Conns, noun, e.Cause)
}

func (e *CutError) Unwrap() error { return e.Cause }
