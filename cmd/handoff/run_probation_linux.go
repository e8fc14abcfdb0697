package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/handoff-go/handoff/control"
	"github.com/handoff-go/handoff/upgrader"
)

// probation watches c, a new child that is ready, for -probation before
// old (the serving child) is asked to drain. If c dies meanwhile, old was
// never signalled and serves on: the upgrade rolled back, and the error
// is an *upgrader.RollbackError. Without an old child there is nothing to
// roll back to, and no probation.
//
// The old child accepts all through probation. Both children hold the
// same listening sockets, and the supervisor cannot pause accept() in a
// process it does not own; nor need it: whatever the old child accepts it
// serves, and once probation passes it drains those connections with the
// rest, as it would have without probation. What the new child accepts is
// lost with it if it dies, just as without probation.
//
// Probation has a clock of its own: -upgrade-timeout bounds how long a
// child may take to become ready, and running out of it while on
// probation changes nothing. A Stop (ctx cancelled) ends probation: the
// new child is killed and the stop drains the old one.
//
// An upgrade asked for during probation is refused as one in progress
// (control.CodeInProgress): in `handoff run` probation is the last step of
// the running upgrade, whose caller still waits for the outcome.
func (s *supervisor) probation(ctx context.Context, c, old *child, progress func(string, int, string)) (err error) {
	if s.cfg.probation <= 0 || old == nil {
		return nil
	}
	c.setState(childProbation)
	s.setProbing(c)
	defer func() { s.endProbing(old, err) }()
	s.log.Info("child on probation", "child", c.pid, "old", old.pid, "probation", s.cfg.probation)
	progress(control.EventProbation, old.pid, s.cfg.probation.String())
	start := time.Now()
	t := time.NewTimer(s.cfg.probation)
	defer t.Stop()
	cancelled := ctx.Done()
	for {
		select {
		case <-t.C:
			s.log.Info("child passed probation", "child", c.pid)
			progress(control.EventPassed, c.pid, "")
			return nil
		case <-old.done:
			if closed(c.done) {
				return s.rollBack(c, old, start)
			}
			s.log.Warn("serving child exited on probation; the new one serves now", "child", c.pid, "old", old.pid)
			progress(control.EventPassed, c.pid, "")
			return nil
		case <-c.done:
			return s.rollBack(c, old, start)
		case <-cancelled:
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				cancelled = nil
				continue
			}
			s.kill(c)
			err := fmt.Errorf("new process %d abandoned on probation: %w", c.pid, ctx.Err())
			return &upgrader.UpgradeError{Step: "probation", PID: c.pid, Err: err}
		}
	}
}

// rollBack reports c's death on probation, once nothing of its
// generation is left.
func (s *supervisor) rollBack(c, old *child, start time.Time) error {
	s.kill(c) // what it started dies with it
	s.log.Warn("new child died on probation; rolled back", "child", c.pid, "old", old.pid, "how", exitStatus(c.status))
	return &upgrader.RollbackError{PID: c.pid,
		Reason: fmt.Sprintf("%s after %v", howEnded(c), time.Since(start).Round(time.Millisecond))}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// setProbing marks c as on probation: should the serving child die
// meanwhile, serve leaves it to probation, which hands over to c.
func (s *supervisor) setProbing(c *child) {
	s.mu.Lock()
	s.probing = c
	s.mu.Unlock()
}

// endProbing ends probation. Should it have failed with the old child
// gone too, nothing serves, and serve hears of that as of any lost child.
func (s *supervisor) endProbing(old *child, err error) {
	s.mu.Lock()
	s.probing = nil
	lost := err != nil && s.serving == nil
	s.mu.Unlock()
	if lost {
		select {
		case s.lost <- old:
		default:
		}
	}
}

func (s *supervisor) onProbation() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.probing != nil
}

// howEnded says how a reaped child ended, as a verb phrase.
func howEnded(c *child) string {
	if c.status.Signaled() {
		return "was killed by " + exitStatus(c.status)
	}
	return "exited (" + exitStatus(c.status) + ")"
}
