package main

import (
	"bytes"
	"os"
	"strconv"
)

// processStart reports when pid started (field 22 of /proc/PID/stat, in
// clock ticks since boot) and whether it has exited but is not reaped yet
// (a zombie); ok is false once it is gone. The pid is looked up in this
// process's pid namespace: run stop beside the server (as systemd's
// ExecStop does), not from another container.
func processStart(pid int) (start uint64, zombie, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false, false
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold spaces and parentheses
	if i < 0 {
		return 0, false, false
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state); field 22 (starttime) is f[19].
	if len(f) < 20 || f[0][0] == 'X' {
		return 0, false, false
	}
	start, err = strconv.ParseUint(string(f[19]), 10, 64)
	if err != nil {
		return 0, false, false
	}
	return start, f[0][0] == 'Z', true
}
