package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/handoff-go/handoff/internal/wire"
	"github.com/handoff-go/handoff/upgrader"
)

// How often stop asks again while the server is briefly not serving, and
// how often it looks whether the generations it waits for are gone.
const (
	stopRetryEvery = 100 * time.Millisecond
	stopPollEvery  = 20 * time.Millisecond
)

// runStop stops the server and waits until every generation is gone. It
// is what a systemd unit's ExecStop runs: after a reload systemd's main
// pid is no child of systemd, and systemd 252 would kill it at once
// instead of letting it drain.
//
// Older generations still draining go first, while the serving one keeps
// serving; only then is the serving one asked to stop. The order matters
// under systemd: a generation's parent is the one before it, and a parent
// still alive reaps its child, so had the serving one (systemd's main
// pid) exited first, systemd would never see it go and would later
// signal a pid that no longer is (or is another process's by then).
// Once its parent is gone, systemd reaps it itself.
func runStop(args []string, stdout io.Writer) error {
	fs, control := newFlags("stop", stdout)
	timeout := fs.Duration("timeout", time.Minute, "give up after `D` and say which generations are still running")
	if err := parse(fs, control, args); err != nil {
		return err
	}
	deadline := time.Now().Add(*timeout)
	st, err := fetchStatus(*control)
	if errors.Is(err, syscall.ECONNREFUSED) {
		fmt.Fprintf(stdout, "nothing serves on %s (a stale socket); nothing to stop\n", *control)
		return nil
	}
	if err != nil {
		return err
	}
	w := newWatch()
	if st, err = waitDraining(*control, st, deadline, w, stdout); err != nil {
		return err
	}
	w.add(st.PID, fmt.Sprintf("generation %d, serving", st.Generation))
	fmt.Fprintf(stdout, "stopping pid %d (generation %d)\n", st.PID, st.Generation)
	if err := askToStop(*control, deadline, w, stdout); err != nil {
		return err
	}
	if left := w.wait(deadline, stdout); len(left) > 0 {
		return fmt.Errorf("still running after %v: %s", *timeout, strings.Join(left, ", "))
	}
	fmt.Fprintln(stdout, "stopped: no generation is left")
	return nil
}

// waitDraining waits until no older generation drains, and returns the
// status that says so. It asks again after each wait: an upgrade meanwhile
// makes the serving process one more draining generation.
func waitDraining(control string, st upgrader.Status, deadline time.Time, w *watch, stdout io.Writer) (upgrader.Status, error) {
	for len(st.Draining) > 0 {
		for _, p := range st.Draining {
			w.add(p.PID, fmt.Sprintf("generation %d, draining", p.Generation))
		}
		fmt.Fprintf(stdout, "waiting for draining pids %s first; pid %d serves meanwhile\n", pidList(st.Draining), st.PID)
		if left := w.wait(deadline, stdout); len(left) > 0 {
			return st, fmt.Errorf("still running at the deadline: %s; pid %d (generation %d) still serves",
				strings.Join(left, ", "), st.PID, st.Generation)
		}
		var err error
		if st, err = fetchStatus(control); err != nil {
			return st, err
		}
	}
	return st, nil
}

func pidList(ps []upgrader.Peer) string {
	pids := make([]string, len(ps))
	for i, p := range ps {
		pids[i] = fmt.Sprint(p.PID)
	}
	return strings.Join(pids, ", ")
}

// askToStop sends the stop request until a serving process accepts it,
// then waits for that process to hang up. A process that is upgrading,
// handing over or not ready yet answers why it did not stop: each such
// state is brief, so stop asks again. Once the socket is gone or nobody
// answers, nothing serves any more and only the watched pids remain.
func askToStop(control string, deadline time.Time, w *watch, stdout io.Writer) error {
	lastReason := ""
	for {
		c, res, err := stopOnce(control, deadline)
		switch {
		case errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
			return nil
		case errors.Is(err, wire.ErrClosed):
			res.Error = "it hung up without an answer" // it is stopping, or handing over
		case err != nil:
			return err
		case res.OK:
			w.add(res.PID, "serving")
			fmt.Fprintf(stdout, "pid %d stopped accepting and is draining\n", res.PID)
			waitHangUp(c, deadline)
			return nil
		default:
			c.Close()
			w.add(res.PID, "stopping")
			if res.Code == wire.CodeStopping {
				fmt.Fprintf(stdout, "pid %d is already stopping\n", res.PID)
				return nil
			}
		}
		if res.Error != lastReason {
			fmt.Fprintf(stdout, "%s; asking again\n", notStopped(res))
			lastReason = res.Error
		}
		if time.Now().Add(stopRetryEvery).After(deadline) {
			return fmt.Errorf("no serving process accepted the stop in time; last: %s", notStopped(res))
		}
		time.Sleep(stopRetryEvery)
	}
}

func notStopped(res wire.Result) string {
	if res.PID == 0 {
		return "the server did not stop (" + res.Error + ")"
	}
	return fmt.Sprintf("pid %d did not stop (%s)", res.PID, res.Error)
}

// stopOnce sends one stop request and reads the answer. On success the
// caller owns c.
func stopOnce(control string, deadline time.Time) (*wire.Conn, wire.Result, error) {
	c, err := dial(control, wire.Request{Op: wire.OpStop})
	if err != nil {
		return nil, wire.Result{}, err
	}
	c.SetDeadline(deadline)
	var res wire.Result
	if err := c.Expect(wire.TypeResult, &res); err != nil {
		c.Close()
		return nil, res, fmt.Errorf("stop request to %s: %w", control, refusal(err))
	}
	switch {
	case !res.OK && res.PID <= 0: // not a generation's answer: a server without the stop operation, say
		c.Close()
		return nil, res, fmt.Errorf("stop request to %s refused: %s", control, res.Error)
	case res.PID <= 0:
		c.Close()
		return nil, res, fmt.Errorf("stop request to %s: %w: answer names no pid: %+v", control, wire.ErrMalformed, res)
	}
	return c, res, nil
}

// waitHangUp reads from the server that accepted the stop until it hangs
// up, which it does when it stops; then it exits. The watch confirms the
// exit, so what ends the read does not matter here.
func waitHangUp(c *wire.Conn, deadline time.Time) {
	defer c.Close()
	c.SetDeadline(deadline)
	for {
		if _, err := c.Recv(); err != nil {
			return
		}
	}
}
