//go:build linux

package procfs

import (
	"fmt"
	"os"
	"strconv"
)

// ReadStat reads /proc/<pid>/stat. Once the process is gone (reaped) the
// error wraps fs.ErrNotExist (or ESRCH, when it went while being read).
// The pid is looked up in this process's pid namespace.
func ReadStat(pid int) (Stat, error) {
	if pid <= 0 {
		return Stat{}, fmt.Errorf("procfs: pid %d: %w", pid, os.ErrNotExist)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, fmt.Errorf("procfs: %w", err)
	}
	st, err := ParseStat(b)
	if err != nil {
		return Stat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return st, nil
}
