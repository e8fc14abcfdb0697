//go:build linux

package main

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"time"
)

// procState is what /proc/<pid>/stat says of a process.
type procState struct {
	state byte // 'R', 'S', 'Z', ...
	pgrp  int
}

// readProcState reads /proc/<pid>/stat; ok is false once the process is
// gone (reaped).
func readProcState(pid int) (st procState, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procState{}, false
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold spaces
	if i < 0 {
		return procState{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 {
		return procState{}, false
	}
	pgrp, _ := strconv.Atoi(f[2])
	return procState{state: f[0][0], pgrp: pgrp}, true
}

// runsInGroup reports whether pid runs (a zombie does not) as a member of
// process group pgid. Checking the group guards against a recycled pid.
func runsInGroup(pid, pgid int) bool {
	st, ok := readProcState(pid)
	return ok && st.state != 'Z' && st.pgrp == pgid
}

// groupMembers lists the live (not zombie) processes of group pgid.
func groupMembers(pgid int) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if runsInGroup(pid, pgid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// readPID reads a pid file; ok is false while it is missing or partial.
func readPID(path string) (pid int, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
	return pid, err == nil && pid > 0
}

// pollUntil calls cond every interval until it returns true (true) or the
// deadline passes (false).
func pollUntil(deadline time.Time, interval time.Duration, cond func() bool) bool {
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
}

// earliest returns the earlier of now+d and end.
func earliest(d time.Duration, end time.Time) time.Time {
	if t := time.Now().Add(d); t.Before(end) {
		return t
	}
	return end
}
