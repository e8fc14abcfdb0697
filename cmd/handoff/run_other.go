//go:build !linux

package main

import (
	"errors"
	"io"
)

// runRun: the supervisor needs Linux (SCM_CREDENTIALS on its notify
// socket, a re-exec through /proc/self/exe).
func runRun([]string, io.Writer) error {
	return errors.New("handoff run is supported on Linux only")
}

// runShim is never reached off Linux: nothing starts the shim there.
func runShim([]string) int { return exitUsage }
