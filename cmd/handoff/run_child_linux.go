package main

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Child states, as `handoff status` shows them.
const (
	childStarting = "starting"
	childServing  = "serving"
	childDraining = "draining"
)

// child is one process the supervisor started. Its pid stays valid for
// signals until done is closed: the waiter reaps it under mu, and signal
// checks under mu that it has not, so a signal never reaches a recycled
// pid.
type child struct {
	pid     int
	started time.Time
	ready   chan struct{} // closed on READY=1, or -ready-after
	done    chan struct{} // closed once reaped; status is valid then

	readyOnce sync.Once
	mu        sync.Mutex
	reaped    bool
	state     string
	note      string // the last STATUS= it sent
	killed    bool   // the supervisor had to SIGKILL it
	status    syscall.WaitStatus
}

func newChild(pid int) *child {
	return &child{pid: pid, started: time.Now(), state: childStarting,
		ready: make(chan struct{}), done: make(chan struct{})}
}

func (c *child) markReady() { c.readyOnce.Do(func() { close(c.ready) }) }

// wait reaps the child once it exits; run it in its own goroutine.
func (c *child) wait() {
	var info unix.Siginfo
	for { // see the exit without reaping, so that signal can still trust the pid
		err := unix.Waitid(unix.P_PID, c.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	c.mu.Lock()
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(c.pid, &ws, 0, nil)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	c.reaped, c.status = true, ws
	c.mu.Unlock()
	close(c.done)
}

// signal sends sig to the child, or to its whole process group; it does
// nothing once the child has been reaped.
func (c *child) signal(sig syscall.Signal, group bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reaped {
		return
	}
	pid := c.pid
	if group {
		pid = -pid // it leads its own group (Setpgid)
	}
	syscall.Kill(pid, sig)
}

// kill ends the child and its group at once, and waits until it is reaped.
func (c *child) kill() {
	c.mu.Lock()
	c.killed = !c.reaped
	c.mu.Unlock()
	c.signal(syscall.SIGKILL, true)
	<-c.done
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

func (c *child) info() childInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return childInfo{PID: c.pid, State: c.state, Started: c.started, Status: c.note}
}

// exitError describes how the child ended, once done is closed.
func (c *child) exitError(when string) error {
	return fmt.Errorf("new process %d exited %s (%s)", c.pid, when, exitStatus(c.status))
}

// drain sends the child stop, then kills it if it is still there after
// timeout. It returns at once; done tells when the child is gone.
func (c *child) drain(stop syscall.Signal, timeout time.Duration) {
	c.setState(childDraining)
	c.signal(stop, false)
	go func() {
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-c.done:
		case <-t.C:
			c.kill()
		}
	}()
}
