package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/handoff-go/handoff/internal/wire"
	"github.com/handoff-go/handoff/upgrader"
)

func runUpgrade(args []string, stdout io.Writer) error {
	fs, control := newFlags("upgrade", stdout)
	timeout := fs.Duration("timeout", 2*time.Minute, "give up waiting for the server's answer after `D`")
	wait := fs.Duration("wait", time.Minute, "after success, wait up to `D` for the old process to finish draining (0: don't)")
	if err := parse(fs, control, args); err != nil {
		return err
	}
	st, err := fetchStatus(*control)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "upgrading pid %d (generation %d)\n", st.PID, st.Generation)
	c, err := dial(*control, upgrader.OpUpgrade)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(*timeout))
	res, err := follow(c, stdout)
	if err != nil {
		return err
	}
	old, supervised := servingChild(st) // a `handoff run` supervisor replaces its child
	if !supervised {
		old = st.PID
	}
	if !res.OK {
		return fmt.Errorf("upgrade failed; pid %d keeps serving: %s", old, res.Error)
	}
	fmt.Fprintf(stdout, "upgraded: pid %d serves\n", res.PID)
	switch {
	case *wait > 0 && supervised:
		waitChildGone(*control, old, *wait, stdout)
	case *wait > 0:
		waitOld(c, st.PID, *wait, stdout)
	}
	return nil
}

// follow prints progress until the result arrives.
func follow(c *wire.Conn, stdout io.Writer) (wire.Result, error) {
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
	case upgrader.EventStarted:
		return fmt.Sprintf("new process started: pid %d", p.PID)
	case upgrader.EventHandedOver:
		return fmt.Sprintf("handed over %s to pid %d", p.Detail, p.PID)
	case upgrader.EventReady:
		return fmt.Sprintf("pid %d is ready", p.PID)
	case upgrader.EventDraining:
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
