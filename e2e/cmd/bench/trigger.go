//go:build linux

package main

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/handoff-go/handoff/control"
)

// stamp is one step of an upgrade and when it happened: for handoff, when
// a progress event reached the bench over the control socket; for
// tableflip, when tfdemo wrote it to its -events file.
type stamp struct {
	Event string    `json:"event"`
	PID   int       `json:"pid"`
	Time  time.Time `json:"time"`
	Error string    `json:"error,omitempty"`
}

// Steps the bench adds to a handoff conversation: the Result arrived, and
// the old process hung up (it does when it stops).
const (
	stepResult = "result"
	stepHangup = "hangup"
)

// attempt is one upgrade request on its way.
type attempt interface {
	// refusal is why the server turned the request down, "" while it has
	// not (or never will).
	refusal() string
	// settle waits up to d for the server to be done with the request,
	// lets go of it and returns its steps so far.
	settle(d time.Duration) []stamp
}

// trigger asks s, whose serving generation is old, to upgrade: handoff
// over its control socket, tableflip by SIGHUP.
func (h *bench) trigger(s *server, old int) (attempt, error) {
	if s.kind == handoff {
		return requestUpgrade(s.ctlPath)
	}
	mark := fileSize(s.eventsPath)
	if err := syscall.Kill(old, syscall.SIGHUP); err != nil {
		return nil, fmt.Errorf("SIGHUP %d: %w", old, err)
	}
	return &signalAttempt{path: s.eventsPath, mark: mark, old: old}, nil
}

// controlAttempt follows an upgrade request on a handoff control socket,
// stamping each message as it arrives.
type controlAttempt struct {
	call *control.Call
	done chan struct{} // closed once the server has hung up

	mu     sync.Mutex
	stamps []stamp
	reason string
}

// requestUpgrade asks the server on path for an upgrade and follows it in
// the background until the server hangs up.
func requestUpgrade(path string) (*controlAttempt, error) {
	call, err := control.Client{Path: path}.Upgrade()
	if err != nil {
		return nil, err
	}
	call.SetDeadline(time.Now().Add(upgradeTimeout + goneTimeout))
	a := &controlAttempt{call: call, done: make(chan struct{})}
	go a.follow()
	return a, nil
}

// follow records every step, the result and the hang-up.
func (a *controlAttempt) follow() {
	defer close(a.done)
	res, err := a.call.Result(func(p control.Progress) {
		a.add(stamp{Event: p.Event, PID: p.PID, Time: time.Now()}, "")
	})
	at := time.Now()
	if re, ok := errors.AsType[*control.RefusedError](err); ok {
		a.add(stamp{Event: stepResult, Time: at, Error: re.Reason}, "abort")
		return
	}
	if err == nil {
		a.add(resultStep(res, at))
		err = a.call.WaitHangUp()
		at = time.Now()
	}
	if err == nil || errors.Is(err, control.ErrHungUp) {
		a.add(stamp{Event: stepHangup, Time: at}, "")
	}
}

// resultStep turns a Result into a stamp, with the refusal reason (the
// Result's code) if the upgrade was turned down.
func resultStep(r control.Result, at time.Time) (stamp, string) {
	st := stamp{Event: stepResult, PID: r.PID, Time: at, Error: r.Error}
	if r.OK {
		return st, ""
	}
	return st, refusalReason(r)
}

// refusalReason keys a turned-down upgrade by its Result code, which
// names the state the server was in; the text around it varies.
func refusalReason(r control.Result) string {
	if r.Code == "" {
		return control.CodeFailed
	}
	return r.Code
}

func (a *controlAttempt) add(st stamp, reason string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stamps = append(a.stamps, st)
	if reason != "" {
		a.reason = reason
	}
}

func (a *controlAttempt) refusal() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.reason
}

func (a *controlAttempt) settle(d time.Duration) []stamp {
	select {
	case <-a.done:
	case <-time.After(d):
	}
	a.call.Close() // ends follow if it still waits
	<-a.done
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stamps
}

// signalAttempt is a SIGHUP to tfdemo, whose generations append what
// happened to their events file.
type signalAttempt struct {
	path string
	mark int64 // the file's size before the SIGHUP
	old  int
}

func (a *signalAttempt) refusal() string {
	for _, st := range readStamps(a.path, a.mark) {
		if st.Event == "refused" && st.PID == a.old {
			return st.Error
		}
	}
	return ""
}

func (a *signalAttempt) settle(time.Duration) []stamp { return readStamps(a.path, a.mark) }
