//go:build !linux

package upgrader

// runningImage has no portable way to reach a deleted executable.
func runningImage() (string, bool) { return "", false }
