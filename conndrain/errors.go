package conndrain

import "fmt"

// CutError reports a drain that ended with connections still open: Drain
// closed them, and whatever they carried was lost.
type CutError struct {
	Conns int   // connections closed by Drain
	Cause error // the context's error: context.DeadlineExceeded or Canceled
}

func (e *CutError) Error() string {
	noun := "connections"
	if e.Conns == 1 {
		noun = "connection"
	}
	return fmt.Sprintf("conndrain: drain: %d %s cut: %v", e.Conns, noun, e.Cause)
}

func (e *CutError) Unwrap() error { return e.Cause }
