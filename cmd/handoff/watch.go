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
	start  uint64 // as processStart reports it
	what   string
	exited time.Time // when it was first seen a zombie
}

// reapGrace is how long a process that exited may stay a zombie before
// the watch stops waiting for its parent to reap it. Under systemd the
// wait matters: systemd learns that its main process exited only when it
// reaps it, and an ExecStop that returned before would have systemd
// signal the zombie and report it as left over.
const reapGrace = 2 * time.Second

func newWatch() *watch { return &watch{procs: map[int]watched{}} }

// add starts watching pid if it runs now and is not watched yet.
func (w *watch) add(pid int, what string) {
	if _, ok := w.procs[pid]; ok || pid <= 0 {
		return
	}
	if start, zombie, ok := processStart(pid); ok && !zombie {
		w.procs[pid] = watched{start: start, what: what}
	}
}

// wait polls until every watched process is gone or deadline passes,
// printing each exit, and returns what is left.
func (w *watch) wait(deadline time.Time, stdout io.Writer) []string {
	for {
		for _, pid := range w.pids() {
			w.check(pid, stdout)
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

// check forgets pid once it is gone (or its number names another
// process), or has been a zombie for reapGrace.
func (w *watch) check(pid int, stdout io.Writer) {
	p := w.procs[pid]
	start, zombie, ok := processStart(pid)
	switch {
	case !ok || start != p.start:
		if p.exited.IsZero() {
			fmt.Fprintf(stdout, "pid %d exited\n", pid)
		}
		delete(w.procs, pid)
	case zombie && p.exited.IsZero():
		fmt.Fprintf(stdout, "pid %d exited\n", pid)
		p.exited = time.Now()
		w.procs[pid] = p
	case zombie && time.Since(p.exited) > reapGrace:
		fmt.Fprintf(stdout, "pid %d exited but its parent has not reaped it after %v\n", pid, reapGrace)
		delete(w.procs, pid)
	}
}

func (w *watch) pids() []int {
	pids := make([]int, 0, len(w.procs))
	for pid := range w.procs {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	return pids
}
