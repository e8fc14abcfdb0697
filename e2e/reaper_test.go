//go:build linux

package e2e

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The test process is a child subreaper: when an old generation exits, its
// children (the newer generations) become ours, and so do their exit
// statuses. One goroutine reaps every child, so no test leaves a zombie,
// and tests can assert how each generation ended.

type exitRecord struct {
	status syscall.WaitStatus
	at     time.Time
}

func (r exitRecord) String() string {
	switch {
	case r.status.Exited():
		return fmt.Sprintf("exit status %d", r.status.ExitStatus())
	case r.status.Signaled():
		return "killed by " + r.status.Signal().String()
	}
	return fmt.Sprintf("wait status %#x", uint32(r.status))
}

var reaper struct {
	mu    sync.Mutex
	exits map[int]exitRecord
}

func startReaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become child subreaper: %w", err)
	}
	reaper.exits = map[int]exitRecord{}
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, syscall.SIGCHLD)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond) // in case a SIGCHLD is coalesced
		for {
			reapAll()
			select {
			case <-ch:
			case <-tick.C:
			}
		}
	}()
	return nil
}

func reapAll() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
		reaper.mu.Lock()
		reaper.exits[pid] = exitRecord{status: ws, at: time.Now()}
		reaper.mu.Unlock()
	}
}

// reaped reports how pid ended, once the reaper has collected it.
func reaped(pid int) (exitRecord, bool) {
	reaper.mu.Lock()
	defer reaper.mu.Unlock()
	r, ok := reaper.exits[pid]
	return r, ok
}
