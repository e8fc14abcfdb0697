package main

import "github.com/handoff-go/handoff/internal/procfs"

// processStart reports when pid started (in clock ticks since boot) and
// whether it has exited but is not reaped yet (a zombie); ok is false once
// it is gone. The pid is looked up in this process's pid namespace: run
// stop beside the server (as systemd's ExecStop does), not from another
// container.
func processStart(pid int) (start uint64, zombie, ok bool) {
	st, err := procfs.ReadStat(pid)
	if err != nil || (!st.Running() && st.State != 'Z') {
		return 0, false, false
	}
	return st.Start, st.State == 'Z', true
}
