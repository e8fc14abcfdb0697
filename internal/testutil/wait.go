// Package testutil holds helpers that the tests of several packages share.
package testutil

import (
	"fmt"
	"testing"
	"time"
)

// pollEvery is how often Poll and WaitFor look again.
const pollEvery = 5 * time.Millisecond

// Poll calls cond until it returns nil or d has passed. It returns nil, or
// cond's last error saying what was still wrong when it gave up. It does
// not touch a testing.T, so it may run off the test goroutine.
func Poll(d time.Duration, cond func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up after %v: %w", d, err)
		}
		time.Sleep(pollEvery)
	}
}

// WaitFor is Poll that fails t (on the test goroutine) when cond is still
// not met after d.
func WaitFor(t testing.TB, d time.Duration, cond func() error) {
	t.Helper()
	if err := Poll(d, cond); err != nil {
		t.Fatal(err)
	}
}
