//go:build linux

package procfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"
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

// All reads the stat of every process in this process's pid namespace.
// A process that exits while the list is read is left out; any other
// failure to read one is returned, with what was read so far.
func All() ([]Stat, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, fmt.Errorf("procfs: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("procfs: list /proc: %w", err)
	}
	var all []Stat
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid <= 0 {
			continue // not a process: self, sys, ...
		}
		st, err := ReadStat(pid)
		switch {
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH):
			continue // gone meanwhile
		case err != nil:
			return all, err
		}
		all = append(all, st)
	}
	return all, nil
}
