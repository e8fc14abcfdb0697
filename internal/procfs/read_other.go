//go:build !linux

package procfs

import (
	"errors"
	"fmt"
	"runtime"
)

// ReadStat needs Linux's /proc; here it returns an error wrapping
// errors.ErrUnsupported.
func ReadStat(pid int) (Stat, error) {
	return Stat{}, fmt.Errorf("procfs: /proc/%d/stat on %s: %w", pid, runtime.GOOS, errors.ErrUnsupported)
}

// All needs Linux's /proc; here it returns an error wrapping
// errors.ErrUnsupported.
func All() ([]Stat, error) {
	return nil, fmt.Errorf("procfs: /proc on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
