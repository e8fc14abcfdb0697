//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/handoff-go/handoff/control"
	"github.com/handoff-go/handoff/upgrader"
)

// fakeChild is a child that is not a process: pid is never signalled
// while reaped, and an ended one's generation is gone.
func fakeChild(pid int, ended bool, ws syscall.WaitStatus) *child {
	c := newChild(pid, 0, nil)
	if ended {
		c.reaped, c.status = true, ws
		close(c.done)
		close(c.gone)
	}
	return c
}

// TestProbation drives probation with children that end (or not) as
// each case says, and checks the outcome, the progress events and
// whether serve is told that nothing serves.
func TestProbation(t *testing.T) {
	const oldPID, newPID = 1 << 30, 1<<30 + 1 // beyond pid_max: no process of anyone's
	for _, tc := range []struct {
		name       string
		probation  time.Duration
		newEnds    bool
		oldEnds    bool
		cancel     bool
		ws         syscall.WaitStatus
		rolledBack bool   // the error wraps ErrRolledBack
		err        string // the error says this; "" for none
		events     string
		lost       bool // serve hears that nothing serves
	}{
		{name: "off", probation: 0, newEnds: true, events: ""},
		{name: "passes", probation: 20 * time.Millisecond, events: "probation 1073741824 20ms; passed 1073741825"},
		{name: "new exits", probation: time.Minute, newEnds: true, ws: 3 << 8, rolledBack: true,
			err: "new pid 1073741825 exited (exit status 3) after ", events: "probation 1073741824 1m0s"},
		{name: "new killed", probation: time.Minute, newEnds: true, ws: syscall.WaitStatus(syscall.SIGSEGV), rolledBack: true,
			err: "was killed by signal: segmentation fault", events: "probation 1073741824 1m0s"},
		{name: "old exits", probation: time.Minute, oldEnds: true, events: "probation 1073741824 1m0s; passed 1073741825"},
		{name: "both exit", probation: time.Minute, newEnds: true, oldEnds: true, rolledBack: true,
			err: " on probation", events: "probation 1073741824 1m0s", lost: true},
		{name: "stopped", probation: time.Minute, cancel: true, err: "abandoned on probation", events: "probation 1073741824 1m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, c := fakeChild(oldPID, tc.oldEnds, 0), fakeChild(newPID, tc.newEnds, tc.ws)
			s := &supervisor{cfg: runConfig{probation: tc.probation}, log: slog.New(slog.DiscardHandler),
				lost: make(chan *child, 1)}
			if !tc.oldEnds {
				s.serving = old
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tc.cancel {
				cancel()
				close(c.gone) // what kill waits for: the fake has no generation
			}
			defer cancel()
			var events []string
			err := s.probation(ctx, c, old, func(ev string, pid int, detail string) {
				events = append(events, strings.TrimSpace(fmt.Sprintf("%s %d %s", ev, pid, detail)))
			})
			if got := strings.Join(events, "; "); got != tc.events {
				t.Errorf("events %q; want %q", got, tc.events)
			}
			if errors.Is(err, upgrader.ErrRolledBack) != tc.rolledBack || (err == nil) != (tc.err == "") ||
				err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Errorf("probation: %v; want rolled back %v, saying %q", err, tc.rolledBack, tc.err)
			}
			rb, isRollback := errors.AsType[*upgrader.RollbackError](err)
			ue, isFailure := errors.AsType[*upgrader.UpgradeError](err)
			switch {
			case err == nil:
			case tc.rolledBack && (!isRollback || rb.PID != newPID):
				t.Errorf("probation: %#v; want a *RollbackError for pid %d", err, newPID)
			case !tc.rolledBack && (!isFailure || ue.Step != "probation" || ue.PID != newPID):
				t.Errorf("probation: %#v; want an *UpgradeError at probation for pid %d", err, newPID)
			}
			if got := len(s.lost) == 1; got != tc.lost {
				t.Errorf("serve told nothing serves: %v; want %v", got, tc.lost)
			}
			if s.onProbation() {
				t.Errorf("still on probation after it ended")
			}
		})
	}
}

// TestUpgradeRolledBack: a rolled-back result exits 5 and says who serves
// again, and why.
func TestUpgradeRolledBack(t *testing.T) {
	res := control.Result{Code: control.CodeRolledBack, PID: 12, Error: "upgrader: rolled back: new pid 12 exited (exit status 3) after 1s on probation"}
	err := failure(res, 11)
	want := "rolled back; pid 11 serves again: upgrader: rolled back: new pid 12 exited (exit status 3) after 1s on probation"
	if err == nil || err.Error() != want || !errors.Is(err, errRolledBack) {
		t.Errorf("failure: %v; want %q, wrapping errRolledBack", err, want)
	}
}
