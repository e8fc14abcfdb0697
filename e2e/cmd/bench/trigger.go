//go:build linux

package main

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/handoff-go/handoff/internal/wire"
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
	c    *wire.Conn
	done chan struct{} // closed once the server has hung up

	mu     sync.Mutex
	stamps []stamp
	reason string
}

// requestUpgrade dials path, asks for an upgrade and follows it in the
// background until the server hangs up.
func requestUpgrade(path string) (*controlAttempt, error) {
	raw, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	c := wire.NewConn(raw.(*net.UnixConn))
	c.SetDeadline(time.Now().Add(upgradeTimeout + goneTimeout))
	if err := c.Send(wire.TypeRequest, wire.Request{Op: wire.OpUpgrade}); err != nil {
		err = c.Refusal(err)
		c.Close()
		return nil, fmt.Errorf("send upgrade request: %w", err)
	}
	a := &controlAttempt{c: c, done: make(chan struct{})}
	go a.follow()
	return a, nil
}

// follow records every message until the connection ends.
func (a *controlAttempt) follow() {
	defer close(a.done)
	for {
		m, err := a.c.Recv()
		at := time.Now()
		if err != nil {
			if errors.Is(err, wire.ErrClosed) {
				a.add(stamp{Event: stepHangup, Time: at}, "")
			}
			return
		}
		if st, reason, ok := decodeStep(m, at); ok {
			a.add(st, reason)
		}
	}
}

// decodeStep turns a progress or result message into a stamp, with the
// refusal reason (the Result's code) if the upgrade was turned down.
func decodeStep(m wire.Msg, at time.Time) (st stamp, reason string, ok bool) {
	switch m.Type {
	case wire.TypeProgress:
		var p wire.Progress
		if m.Decode(&p) != nil {
			return stamp{}, "", false
		}
		return stamp{Event: p.Event, PID: p.PID, Time: at}, "", true
	case wire.TypeResult:
		var r wire.Result
		if m.Decode(&r) != nil {
			return stamp{}, "", false
		}
		st = stamp{Event: stepResult, PID: r.PID, Time: at, Error: r.Error}
		if !r.OK {
			reason = refusalReason(r)
		}
		return st, reason, true
	case wire.TypeAbort:
		var ab wire.Abort
		m.Decode(&ab)
		return stamp{Event: stepResult, Time: at, Error: ab.Reason}, "abort", true
	}
	return stamp{}, "", false
}

// refusalReason keys a turned-down upgrade by its Result code, which
// names the state the server was in; the text around it varies.
func refusalReason(r wire.Result) string {
	if r.Code == "" {
		return wire.CodeFailed
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
	a.c.Close() // ends follow if it still waits
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
