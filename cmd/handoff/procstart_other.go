//go:build !linux

package main

import (
	"os"
	"syscall"
)

// processStart reports whether pid runs. Without /proc there is no start
// time to tell a reused pid apart (0 for every process) nor a way to see a
// zombie, and on Windows the answer is always false: stop then waits for
// the serving generation only, through its control connection.
func processStart(pid int) (start uint64, zombie, ok bool) {
	p, err := os.FindProcess(pid)
	if err != nil {
		return 0, false, false
	}
	return 0, false, p.Signal(syscall.Signal(0)) == nil
}
