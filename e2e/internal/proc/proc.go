//go:build linux

// Package proc watches the processes that e2e tests and the bench start:
// a reaper that collects every child's exit status (the caller becomes a
// child subreaper, so generations orphaned when their parent exits are
// collected too), and what /proc says of a process.
package proc

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/handoff-go/handoff/internal/pidfile"
	"github.com/handoff-go/handoff/internal/procfs"
)

// Exit is how and when a child ended.
type Exit struct {
	Status syscall.WaitStatus
	At     time.Time
	CPU    time.Duration // user + system time over its whole life
}

// OK reports a clean exit: status 0.
func (e Exit) OK() bool { return e.Status.Exited() && e.Status.ExitStatus() == 0 }

func (e Exit) String() string {
	switch {
	case e.Status.Exited():
		return fmt.Sprintf("exit status %d", e.Status.ExitStatus())
	case e.Status.Signaled():
		return "killed by " + unix.SignalName(e.Status.Signal())
	}
	return fmt.Sprintf("wait status %#x", uint32(e.Status))
}

// Reaper collects every child of this process. Once it runs nothing else
// may wait for children: exec.Cmd.Wait would race it for exit statuses, so
// start processes with Start and Process.Release, and ask the Reaper.
type Reaper struct {
	mu    sync.Mutex
	exits map[int]Exit
	sigs  chan os.Signal
	done  chan struct{}
}

// StartReaper makes this process a child subreaper and starts reaping.
func StartReaper() (*Reaper, error) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("become child subreaper: %w", err)
	}
	r := &Reaper{exits: map[int]Exit{}, sigs: make(chan os.Signal, 16), done: make(chan struct{})}
	signal.Notify(r.sigs, syscall.SIGCHLD)
	go r.loop()
	return r, nil
}

func (r *Reaper) loop() {
	tick := time.NewTicker(20 * time.Millisecond) // SIGCHLDs coalesce
	defer tick.Stop()
	for {
		r.reapAll()
		select {
		case <-r.sigs:
		case <-tick.C:
		case <-r.done:
			return
		}
	}
}

// Stop ends the reaping goroutine after a last sweep.
func (r *Reaper) Stop() {
	signal.Stop(r.sigs)
	close(r.done)
	r.reapAll()
}

func (r *Reaper) reapAll() {
	for {
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, &ru)
		if pid <= 0 || err != nil {
			return
		}
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		r.mu.Lock()
		r.exits[pid] = Exit{Status: ws, At: time.Now(), CPU: cpu}
		r.mu.Unlock()
	}
}

// Exited reports how pid ended, once it has been reaped.
func (r *Reaper) Exited(pid int) (Exit, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.exits[pid]
	return e, ok
}

// Forget drops what is known of pid: a new process now has that number.
func (r *Reaper) Forget(pid int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.exits, pid)
}

// ForgetEarlier drops what is known of pid while a process of that
// number exists, running or a zombie not yet reaped: pids wrap (at
// pid_max), so a record for a number some process has now belongs to an
// earlier process. Under the lock no record can be added, and a process
// still in /proc has not been reaped, so its own exit is never lost.
func (r *Reaper) ForgetEarlier(pid int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := ReadState(pid); ok {
		delete(r.exits, pid)
	}
}

// Start starts cmd and leaves its exit to the reaper, dropping any record
// an earlier process of the same pid left. Every process started after
// StartReaper must start here: exec.Cmd.Wait would race the reaper, and a
// stale record would report the new process exited with the old one's
// status (a short command "killed" the moment it starts).
func (r *Reaper) Start(cmd *exec.Cmd) (pid int, err error) {
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	pid = cmd.Process.Pid
	cmd.Process.Release()
	r.ForgetEarlier(pid)
	return pid, nil
}

// CPUOf returns the CPU time of each of pids that has been reaped.
func (r *Reaper) CPUOf(pids []int) []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []time.Duration
	for _, pid := range pids {
		if e, ok := r.exits[pid]; ok {
			out = append(out, e.CPU)
		}
	}
	return out
}

// State is what /proc/<pid>/stat says of a process.
type State = procfs.Stat

// ReadState reads /proc/<pid>/stat; ok is false once the process is gone
// (reaped).
func ReadState(pid int) (st State, ok bool) {
	st, err := procfs.ReadStat(pid)
	return st, err == nil
}

// Alive reports whether pid runs; a zombie does not.
func Alive(pid int) bool {
	st, ok := ReadState(pid)
	return ok && st.State != 'Z'
}

// RunsInGroup reports whether pid runs as a member of process group pgid;
// checking the group guards against a recycled pid.
func RunsInGroup(pid, pgid int) bool {
	st, ok := ReadState(pid)
	return ok && st.State != 'Z' && st.PGRP == pgid
}

// GroupMembers lists the live (not zombie) processes of group pgid.
func GroupMembers(pgid int) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && RunsInGroup(pid, pgid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// ReadPID reads a pid file as pidfile.Read does; ok is false while
// it is missing or partial, which pollers expect.
func ReadPID(path string) (pid int, ok bool) {
	pid, err := pidfile.Read(path)
	return pid, err == nil
}
