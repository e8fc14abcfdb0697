package main

import (
	"fmt"
	"io"
	"sort"
	"time"
)

// watch follows processes by pid until they are gone. Each is identified
// by its pid and its start time, so that a pid reused by an unrelated
// process after the one we watched exited does not count as still
// running. The pids come from the server; they are only ever looked up,
// never signalled.
type watch struct {
	procs map[int]watched
}

type watched struct {
	start uint64 // as processStart reports it
	what  string
}

func newWatch() *watch { return &watch{procs: map[int]watched{}} }

// add starts watching pid if it runs now and is not watched yet.
func (w *watch) add(pid int, what string) {
	if _, ok := w.procs[pid]; ok || pid <= 0 {
		return
	}
	if start, ok := processStart(pid); ok {
		w.procs[pid] = watched{start: start, what: what}
	}
}

// wait polls until every watched process is gone or deadline passes,
// printing each exit, and returns what is left.
func (w *watch) wait(deadline time.Time, stdout io.Writer) []string {
	for {
		for _, pid := range w.pids() {
			if start, ok := processStart(pid); !ok || start != w.procs[pid].start {
				fmt.Fprintf(stdout, "pid %d exited\n", pid)
				delete(w.procs, pid)
			}
		}
		if len(w.procs) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(stopPollEvery)
	}
	var left []string
	for _, pid := range w.pids() {
		left = append(left, fmt.Sprintf("pid %d (%s)", pid, w.procs[pid].what))
	}
	return left
}

func (w *watch) pids() []int {
	pids := make([]int, 0, len(w.procs))
	for pid := range w.procs {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	return pids
}
