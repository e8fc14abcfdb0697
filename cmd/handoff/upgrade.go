package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/handoff-go/handoff/control"
)

func runUpgrade(args []string, stdout io.Writer) error {
	fs := newClientFlags("upgrade")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up waiting for the upgrade's result after `D`")
	wait := fs.Duration("wait", time.Minute, "after success, wait up to `D` for the old process to finish draining (0: don't)")
	atReady := fs.Bool("at-ready", false, "return as soon as the new process is ready, without waiting for its probation to pass (exit 0 then says nothing of a rollback)")
	cl, err := fs.parse(args, stdout)
	if err != nil {
		return err
	}
	cl.AnswerTimeout = min(*timeout, control.DefaultAnswerTimeout)
	call, err := cl.Upgrade()
	if err != nil {
		return err
	}
	defer call.Close()
	call.SetDeadline(time.Now().Add(*timeout))
	var ev upgradeEvents
	ready := make(chan int, 1) // the new pid, once it serves (for -at-ready)
	type answer struct {
		res control.Result
		err error
	}
	answered := make(chan answer, 1)
	go func() {
		res, err := call.Result(func(p control.Progress) {
			ev.note(p)
			fmt.Fprintln(stdout, describe(p))
			if p.Event == control.EventReady {
				ready <- p.PID
			}
		})
		answered <- answer{res, err}
	}()
	var a answer
	if *atReady {
		select {
		case pid := <-ready:
			fmt.Fprintf(stdout, "pid %d serves; not waiting for its probation (-at-ready)\n", pid)
			return nil
		case a = <-answered: // over before Ready: say how, as without the flag
		}
	} else {
		a = <-answered
	}
	res, err := a.res, a.err
	if err != nil {
		return explainCall(err, cl.Path, "the upgrade request", cl.AnswerTimeout)
	}
	if !res.OK {
		return failure(res, ev.serving)
	}
	fmt.Fprintf(stdout, "upgraded: pid %d serves\n", res.PID)
	switch {
	case *wait <= 0 || ev.draining == 0:
	case ev.draining == ev.server:
		waitOld(call, ev.server, *wait, stdout) // it hangs up when it exits
	default:
		waitChildGone(cl.Path, ev.draining, *wait, stdout) // a supervisor's child
	}
	return nil
}

// upgradeEvents is what the progress said about who is who: the server
// that upgrades, the process that serves until the upgrade succeeds (the
// server itself, or a `handoff run` supervisor's child) and the one that
// drains after it did.
type upgradeEvents struct {
	server, serving, draining int
}

func (e *upgradeEvents) note(p control.Progress) {
	switch p.Event {
	case control.EventUpgrading:
		if e.server == 0 {
			e.server = p.PID
		}
		e.serving = p.PID
	case control.EventDraining:
		e.draining = p.PID
	}
}

// failure says what a refused or failed upgrade means for the server.
func failure(res control.Result, oldPID int) error {
	who := "the server"
	if oldPID > 0 {
		who = fmt.Sprintf("pid %d", oldPID)
	}
	switch res.Code {
	case control.CodeStopping:
		return fmt.Errorf("upgrade refused: %s is stopping: %s", who, res.Error)
	case control.CodeHandedOver:
		return fmt.Errorf("upgrade refused: %s has already handed over and is draining: %s", who, res.Error)
	case control.CodeRolledBack:
		return fmt.Errorf("%w; %s serves again: %s", errRolledBack, who, res.Error)
	case control.CodeFailed:
		return fmt.Errorf("upgrade failed; %s keeps serving: %s", who, res.Error)
	}
	return fmt.Errorf("upgrade refused; %s keeps serving: %s", who, res.Error)
}

func describe(p control.Progress) string {
	switch p.Event {
	case control.EventUpgrading:
		return fmt.Sprintf("upgrading pid %d (%s)", p.PID, p.Detail)
	case control.EventStarted:
		return fmt.Sprintf("new process started: pid %d", p.PID)
	case control.EventHandedOver:
		return fmt.Sprintf("handed over %s to pid %d", p.Detail, p.PID)
	case control.EventReady:
		return fmt.Sprintf("pid %d is ready", p.PID)
	case control.EventDraining:
		return fmt.Sprintf("pid %d stopped accepting and is draining", p.PID)
	case control.EventProbation:
		return fmt.Sprintf("pid %d stopped accepting; it keeps its sockets and watches the new process for %s (probation)", p.PID, p.Detail)
	case control.EventPassed:
		return fmt.Sprintf("pid %d passed probation", p.PID)
	}
	return fmt.Sprintf("%s %d %s", p.Event, p.PID, p.Detail)
}

// waitOld waits for the old process to hang up, which it does when it has
// drained and stopped. The upgrade has succeeded either way: what this
// prints is news about the old process, not a verdict.
func waitOld(call *control.Call, pid int, wait time.Duration, stdout io.Writer) {
	call.SetDeadline(time.Now().Add(wait))
	err := call.WaitHangUp()
	switch {
	case err == nil:
		fmt.Fprintf(stdout, "old pid %d exited\n", pid)
	case errors.Is(err, os.ErrDeadlineExceeded):
		fmt.Fprintf(stdout, "old pid %d still draining after %v\n", pid, wait)
	default:
		fmt.Fprintf(stdout, "lost track of old pid %d while it drains: %v\n", pid, err)
	}
}
