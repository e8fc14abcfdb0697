//go:build unix && !linux

package upgrader

import "golang.org/x/sys/unix"

// processAlive reports whether pid runs (or is a zombie: without /proc
// there is no cheap way to tell).
func processAlive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || err == unix.EPERM
}
