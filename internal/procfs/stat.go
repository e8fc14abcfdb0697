// Package procfs reads what Linux's /proc says of a process, in one place
// for every part of handoff that needs it.
package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// ErrMalformed is wrapped by every error ParseStat returns.
var ErrMalformed = errors.New("procfs: malformed stat line")

// Stat is what /proc/<pid>/stat says of a process (proc(5)).
type Stat struct {
	PID   int
	Comm  string // the command name, which may hold spaces and parentheses
	State byte   // 'R', 'S', 'D', 'Z' (zombie: exited, not yet reaped), ...
	PPID  int
	PGRP  int    // process group
	Start uint64 // start time in clock ticks after boot: with PID, names a process across pid reuse
}

// Running reports whether the process has not exited: a zombie (exited,
// waiting to be reaped) or a dead one has.
func (s Stat) Running() bool {
	switch s.State {
	case 'Z', 'X', 'x':
		return false
	}
	return true
}

// statFields is how many fields ParseStat needs, the 22nd (starttime)
// being the last.
const statFields = 22

// ParseStat parses the contents of a /proc/<pid>/stat file. The bytes are
// untrusted: anything that is not a well-formed line gives an error
// wrapping ErrMalformed.
func ParseStat(b []byte) (Stat, error) {
	open := bytes.IndexByte(b, '(')
	// The name may itself hold ")", but no field after it does.
	closing := bytes.LastIndexByte(b, ')')
	if open < 1 || closing < open || b[open-1] != ' ' {
		return Stat{}, fmt.Errorf(`%w: no "pid (name)" at its start`, ErrMalformed)
	}
	pid, err := strconv.Atoi(string(b[:open-1]))
	if err != nil || pid <= 0 {
		return Stat{}, fmt.Errorf("%w: pid %q", ErrMalformed, b[:open-1])
	}
	rest := b[closing+1:]
	if len(rest) == 0 || rest[0] != ' ' {
		return Stat{}, fmt.Errorf(`%w: no space after the name's ")"`, ErrMalformed)
	}
	f := bytes.Fields(rest) // f[0] is field 3
	if len(f) < statFields-2 {
		return Stat{}, fmt.Errorf("%w: %d fields; want at least %d", ErrMalformed, len(f)+2, statFields)
	}
	return parseFields(Stat{PID: pid, Comm: string(b[open+1 : closing])}, f)
}

// parseFields fills st from the fields after the name.
func parseFields(st Stat, f [][]byte) (Stat, error) {
	if len(f[0]) != 1 || !isLetter(f[0][0]) {
		return Stat{}, fmt.Errorf("%w: state %q", ErrMalformed, f[0])
	}
	st.State = f[0][0]
	var errs [3]error
	st.PPID, errs[0] = strconv.Atoi(string(f[1]))
	st.PGRP, errs[1] = strconv.Atoi(string(f[2]))
	st.Start, errs[2] = strconv.ParseUint(string(f[statFields-3]), 10, 64)
	if err := errors.Join(errs[:]...); err != nil {
		return Stat{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return st, nil
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
