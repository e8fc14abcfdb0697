package main

import (
	"fmt"
	"sync"
	"syscall"
	"time"
)

// Child states, as `handoff status` shows them.
const (
	childStarting  = "starting"
	childProbation = "probation" // ready; the old child serves on until it passes
	childServing   = "serving"
	childDraining  = "draining"
	childExited    = "exited" // the child is gone, what it started is not
)

// child is one process the supervisor started, and its generation:
// everything that process started, in its cgroup or, without one, as
// far as the supervisor saw it (run_tree_linux.go). The child's pid stays
// valid for signals until done is closed: the reaper reaps it under mu,
// and signal checks under mu that it has not, so a signal never reaches
// a recycled pid.
type child struct {
	pid     int
	started time.Time
	ready   chan struct{} // closed on READY=1, or -ready-after
	done    chan struct{} // closed once the child is reaped; status is valid then
	gone    chan struct{} // closed once nothing of its generation is left
	cg      *cgroupGroup  // its generation's cgroup; nil: tracked through /proc

	readyOnce sync.Once
	mu        sync.Mutex
	reaped    bool
	state     string
	note      string // the last STATUS= it sent
	stopping  bool   // it said STOPPING=1
	draining  bool   // it was asked to stop
	killed    []int  // what of it the supervisor had to SIGKILL
	status    syscall.WaitStatus
	known     map[int]uint64 // without a cgroup: its generation as seen, pid → start time
	statusLog rateLog
}

func newChild(pid int, start uint64, cg *cgroupGroup) *child {
	return &child{pid: pid, started: time.Now(), state: childStarting, cg: cg,
		ready: make(chan struct{}), done: make(chan struct{}), gone: make(chan struct{}),
		known: map[int]uint64{pid: start}}
}

func (c *child) markReady() { c.readyOnce.Do(func() { close(c.ready) }) }

// reap collects the child's exit status; the reaper calls it once the
// child has exited.
func (c *child) reap() {
	c.mu.Lock()
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(c.pid, &ws, 0, nil)
		if err != syscall.EINTR {
			break
		}
	}
	c.reaped, c.status = true, ws
	if c.state != childDraining {
		c.state = childExited
	}
	c.mu.Unlock()
	close(c.done)
}

// signal sends sig to the child itself; it does nothing once the child
// has been reaped.
func (c *child) signal(sig syscall.Signal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.reaped {
		syscall.Kill(c.pid, sig)
	}
}

func (c *child) setState(s string) {
	c.mu.Lock()
	c.state = s
	c.mu.Unlock()
}

func (c *child) setNote(s string) {
	c.mu.Lock()
	c.note = s
	c.mu.Unlock()
}

// firstStopping reports whether this is the first STOPPING=1 it sent.
func (c *child) firstStopping() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	first := !c.stopping
	c.stopping = true
	return first
}

// info describes the child; left is what is left of its generation.
func (c *child) info(left []int) childInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	state := c.state
	if c.reaped {
		state = childExited
	}
	ci := childInfo{PID: c.pid, State: state, Started: c.started, Status: c.note,
		Processes: left}
	if c.cg != nil {
		ci.Cgroup = c.cg.dir
	}
	return ci
}

// exitError describes how the child ended, once done is closed.
func (c *child) exitError(when string) error {
	return fmt.Errorf("new process %d exited %s (%s)", c.pid, when, exitStatus(c.status))
}
