package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/handoff-go/handoff/internal/wire"
)

func runUpgrade(args []string, stdout io.Writer) error {
	fs, control := newFlags("upgrade", stdout)
	timeout := fs.Duration("timeout", 2*time.Minute, "give up waiting for the server's answer after `D`")
	wait := fs.Duration("wait", time.Minute, "after success, wait up to `D` for the old process to finish draining (0: don't)")
	if err := parse(fs, control, args); err != nil {
		return err
	}
	c, err := dial(*control, wire.Request{Op: wire.OpUpgrade})
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(*timeout))
	var ev upgradeEvents
	res, err := follow(c, stdout, &ev)
	if err != nil {
		return err
	}
	if !res.OK {
		return failure(res, ev.serving)
	}
	fmt.Fprintf(stdout, "upgraded: pid %d serves\n", res.PID)
	switch {
	case *wait <= 0 || ev.draining == 0:
	case ev.draining == ev.server:
		waitOld(c, ev.server, *wait, stdout) // it hangs up when it exits
	default:
		waitChildGone(*control, ev.draining, *wait, stdout) // a supervisor's child
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

func (e *upgradeEvents) note(p wire.Progress) {
	switch p.Event {
	case wire.EventUpgrading:
		if e.server == 0 {
			e.server = p.PID
		}
		e.serving = p.PID
	case wire.EventDraining:
		e.draining = p.PID
	}
}

// failure says what a refused or failed upgrade means for the server.
func failure(res wire.Result, oldPID int) error {
	who := "the server"
	if oldPID > 0 {
		who = fmt.Sprintf("pid %d", oldPID)
	}
	switch res.Code {
	case wire.CodeStopping:
		return fmt.Errorf("upgrade refused: %s is stopping: %s", who, res.Error)
	case wire.CodeHandedOver:
		return fmt.Errorf("upgrade refused: %s has already handed over and is draining: %s", who, res.Error)
	case wire.CodeFailed:
		return fmt.Errorf("upgrade failed; %s keeps serving: %s", who, res.Error)
	}
	return fmt.Errorf("upgrade refused; %s keeps serving: %s", who, res.Error)
}

// follow prints progress until the result arrives, noting in ev who is who.
func follow(c *wire.Conn, stdout io.Writer, ev *upgradeEvents) (wire.Result, error) {
	for {
		m, err := c.Recv()
		if err != nil {
			return wire.Result{}, fmt.Errorf("lost the server before the upgrade finished: %w", refusal(err))
		}
		switch m.Type {
		case wire.TypeProgress:
			var p wire.Progress
			if err := m.Decode(&p); err != nil {
				return wire.Result{}, err
			}
			ev.note(p)
			fmt.Fprintln(stdout, describe(p))
		case wire.TypeResult:
			var r wire.Result
			return r, m.Decode(&r)
		case wire.TypeAbort:
			var a wire.Abort
			m.Decode(&a)
			return wire.Result{}, fmt.Errorf("server refused: %s", a.Reason)
		default:
			return wire.Result{}, fmt.Errorf("%w: %s during an upgrade", wire.ErrUnexpected, m.Type)
		}
	}
}

func describe(p wire.Progress) string {
	switch p.Event {
	case wire.EventUpgrading:
		return fmt.Sprintf("upgrading pid %d (%s)", p.PID, p.Detail)
	case wire.EventStarted:
		return fmt.Sprintf("new process started: pid %d", p.PID)
	case wire.EventHandedOver:
		return fmt.Sprintf("handed over %s to pid %d", p.Detail, p.PID)
	case wire.EventReady:
		return fmt.Sprintf("pid %d is ready", p.PID)
	case wire.EventDraining:
		return fmt.Sprintf("pid %d stopped accepting and is draining", p.PID)
	}
	return fmt.Sprintf("%s %d %s", p.Event, p.PID, p.Detail)
}

// waitOld waits for the old process to hang up, which it does when it has
// drained and stopped. The upgrade has succeeded either way: what this
// prints is news about the old process, not a verdict.
func waitOld(c *wire.Conn, pid int, wait time.Duration, stdout io.Writer) {
	c.SetDeadline(time.Now().Add(wait))
	_, err := c.Recv()
	switch {
	case errors.Is(err, wire.ErrClosed):
		fmt.Fprintf(stdout, "old pid %d exited\n", pid)
	case errors.Is(err, os.ErrDeadlineExceeded):
		fmt.Fprintf(stdout, "old pid %d still draining after %v\n", pid, wait)
	default:
		fmt.Fprintf(stdout, "lost track of old pid %d while it drains: %v\n", pid, errString(err))
	}
}

func errString(err error) string {
	if err == nil {
		return "it sent an unexpected message"
	}
	return err.Error()
}
