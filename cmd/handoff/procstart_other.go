//go:build !linux

package main

import (
	"os"
	"syscall"
)

// processStart reports whether pid runs. Without /proc there is no start
// time to tell a reused pid apart (0 for every process), and on Windows
// the answer is always false: stop then waits for the serving generation
// only, through its control connection.
func processStart(pid int) (uint64, bool) {
	p, err := os.FindProcess(pid)
	if err != nil {
		return 0, false
	}
	return 0, p.Signal(syscall.Signal(0)) == nil
}
