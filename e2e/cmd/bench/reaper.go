//go:build linux

package main

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// exitRecord is how and when a child ended.
type exitRecord struct {
	status syscall.WaitStatus
	at     time.Time
	cpu    time.Duration // user + system time over the whole life
}

// ok reports a clean exit: status 0.
func (r exitRecord) ok() bool { return r.status.Exited() && r.status.ExitStatus() == 0 }

func (r exitRecord) String() string {
	switch {
	case r.status.Exited():
		return fmt.Sprintf("exit status %d", r.status.ExitStatus())
	case r.status.Signaled():
		return "killed by " + r.status.Signal().String()
	}
	return fmt.Sprintf("wait status %#x", uint32(r.status))
}

// reaper collects every child of the bench, including the generations a
// server starts: the bench is a child subreaper, so when an old generation
// exits, its children become ours. Nothing else may wait for children
// once the reaper runs (exec.Cmd.Wait would race it for exit statuses).
type reaper struct {
	mu    sync.Mutex
	exits map[int]exitRecord
	sigs  chan os.Signal
	done  chan struct{}
}

// startReaper makes the bench a child subreaper and starts reaping.
func startReaper() (*reaper, error) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("become child subreaper: %w", err)
	}
	r := &reaper{exits: map[int]exitRecord{}, sigs: make(chan os.Signal, 16), done: make(chan struct{})}
	signal.Notify(r.sigs, syscall.SIGCHLD)
	go r.loop()
	return r, nil
}

func (r *reaper) loop() {
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

// stop ends the reaping goroutine after a last sweep.
func (r *reaper) stop() {
	signal.Stop(r.sigs)
	close(r.done)
	r.reapAll()
}

func (r *reaper) reapAll() {
	for {
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, &ru)
		if pid <= 0 || err != nil {
			return
		}
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		r.mu.Lock()
		r.exits[pid] = exitRecord{status: ws, at: time.Now(), cpu: cpu}
		r.mu.Unlock()
	}
}

// exited reports how pid ended, once it has been reaped.
func (r *reaper) exited(pid int) (exitRecord, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, ok := r.exits[pid]
	return rec, ok
}

// forget drops what is known of pid: a new process now has that number.
func (r *reaper) forget(pid int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.exits, pid)
}

// cpuOf returns the CPU time of each of pids that has been reaped.
func (r *reaper) cpuOf(pids []int) []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []time.Duration
	for _, pid := range pids {
		if rec, ok := r.exits[pid]; ok {
			out = append(out, rec.cpu)
		}
	}
	return out
}
