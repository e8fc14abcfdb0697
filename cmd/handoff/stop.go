package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/handoff-go/handoff/control"
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
	fs := newClientFlags("stop")
	timeout := fs.Duration("timeout", time.Minute, "give up after `D` and say which generations are still running")
	cl, err := fs.parse(args, stdout)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(*timeout)
	st, err := fetchStatus(cl.Path)
	if nothingServes(err, cl.Path, stdout) {
		return nil
	}
	if err != nil {
		return err
	}
	w := newWatch()
	if st, err = waitDraining(cl.Path, st, deadline, w, stdout); err != nil {
		return err
	}
	w.add(st.PID, fmt.Sprintf("generation %d, serving", st.Generation))
	fmt.Fprintf(stdout, "stopping pid %d (generation %d)\n", st.PID, st.Generation)
	if err := askToStop(cl.Path, deadline, w, stdout); err != nil {
		return err
	}
	if left := w.wait(deadline, stdout); len(left) > 0 {
		return fmt.Errorf("still running after %v: %s", *timeout, strings.Join(left, ", "))
	}
	fmt.Fprintln(stdout, "stopped: no generation is left")
	return nil
}

// nothingServes reports whether err says that nothing serves on path, and
// says so: no file there (the server stopped and removed it, or never
// ran), or a stale socket (it died). That is a stop done, as systemd's
// ExecStop on a stopped service needs. A path that is no socket, or one
// this user may not use, is an error: a wrong path would otherwise pass
// for a stopped service.
func nothingServes(err error, path string, stdout io.Writer) bool {
	switch {
	case errors.Is(err, control.ErrNoServer):
		fmt.Fprintf(stdout, "no control socket at %s: nothing serves there; nothing to stop\n", path)
	case errors.Is(err, control.ErrStaleSocket):
		fmt.Fprintf(stdout, "nothing serves on %s (a stale socket); nothing to stop\n", path)
	default:
		return false
	}
	return true
}

// waitDraining waits until no older generation drains, and returns the
// status that says so. It asks again after each wait: an upgrade meanwhile
// makes the serving process one more draining generation.
func waitDraining(path string, st control.Status, deadline time.Time, w *watch, stdout io.Writer) (control.Status, error) {
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
		if st, err = fetchStatus(path); err != nil {
			return st, err
		}
	}
	return st, nil
}

func pidList(ps []control.Peer) string {
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
func askToStop(path string, deadline time.Time, w *watch, stdout io.Writer) error {
	lastReason := ""
	for {
		call, res, err := stopOnce(path, deadline)
		switch {
		case errors.Is(err, control.ErrNoServer), errors.Is(err, control.ErrStaleSocket):
			return nil
		case errors.Is(err, control.ErrHungUp):
			res.Error = "it hung up without an answer" // it is stopping, or handing over
		case err != nil:
			return err
		case res.OK:
			w.add(res.PID, "serving")
			fmt.Fprintf(stdout, "pid %d stopped accepting and is draining\n", res.PID)
			call.SetDeadline(deadline)
			call.WaitHangUp() // the watch confirms the exit, whatever ends the wait
			call.Close()
			return nil
		default:
			call.Close()
			w.add(res.PID, "stopping")
			if res.Code == control.CodeStopping {
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

func notStopped(res control.Result) string {
	if res.PID == 0 {
		return "the server did not stop (" + res.Error + ")"
	}
	return fmt.Sprintf("pid %d did not stop (%s)", res.PID, res.Error)
}

// stopOnce sends one stop request and reads the answer. On success the
// caller owns call.
func stopOnce(path string, deadline time.Time) (*control.Call, control.Result, error) {
	cl := control.Client{Path: path, AnswerTimeout: min(time.Until(deadline), control.DefaultAnswerTimeout)}
	call, err := cl.Stop()
	if err != nil {
		return nil, control.Result{}, err
	}
	call.SetDeadline(deadline)
	res, err := call.Result(nil)
	switch {
	case err != nil:
		call.Close()
		return nil, res, explainCall(err, path, "the stop request", cl.AnswerTimeout)
	case !res.OK && res.PID <= 0: // not a generation's answer: a server without the stop operation, say
		call.Close()
		return nil, res, fmt.Errorf("stop request to %s refused: %s", path, res.Error)
	case res.PID <= 0:
		call.Close()
		return nil, res, fmt.Errorf("stop request to %s: answer names no pid: %+v", path, res)
	}
	return call, res, nil
}
