package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/handoff-go/handoff/control"
)

func runStatus(args []string, stdout io.Writer) error {
	fs := newClientFlags("status")
	asJSON := fs.Bool("json", false, "print the status as JSON, for programs")
	cl, err := fs.parse(args, stdout)
	if err != nil {
		return err
	}
	st, err := fetchStatus(cl.Path)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printStatus(stdout, st)
	return nil
}

// fetchStatus asks the server on the control socket at path for its status.
func fetchStatus(path string) (control.Status, error) {
	st, err := control.Client{Path: path}.Status()
	return st, explainCall(err, path, "the status request", control.DefaultAnswerTimeout)
}

// explainCall says what a failed request means for the server, where
// the control package's words are not enough: what no answer means, and
// that a lost answer leaves the outcome unknown.
func explainCall(err error, path, what string, answer time.Duration) error {
	switch {
	case errors.Is(err, control.ErrNoAnswer):
		return fmt.Errorf("no answer from the server on %s within %v: it may be out of file descriptors or stuck; "+
			"%s was withdrawn, and the server drops it unread: nothing was done (%w)", path, answer, what, err)
	case errors.Is(err, control.ErrOutcomeUnknown):
		return fmt.Errorf("the server on %s received %s, then the answer was lost: it may have been carried out; "+
			"see handoff status -control %s (%w)", path, what, path, err)
	}
	return err
}

func printStatus(w io.Writer, st control.Status) {
	fmt.Fprintf(w, "pid %d: %s (generation %d, %s start)\n", st.PID, st.State, st.Generation, st.Mode)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "listeners:")
	for _, l := range st.Listeners {
		from := "own"
		if l.Inherited {
			from = "inherited"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", l.Name, l.Network, l.Addr, from)
	}
	tw.Flush()
	printRunDetail(w, st) // a `handoff run` supervisor's children
	if len(st.Draining) == 0 {
		fmt.Fprintf(w, "draining: none (at most %d)\n", st.MaxDraining)
	}
	for _, p := range st.Draining {
		fmt.Fprintf(w, "draining: pid %d (generation %d)\n", p.PID, p.Generation)
	}
	if u := st.LastUpgrade; u != nil {
		outcome := fmt.Sprintf("to pid %d", u.NewPID)
		switch {
		case u.RolledBack:
			outcome = "rolled back: " + u.Error
		case u.Error != "":
			outcome = "failed: " + u.Error
		}
		fmt.Fprintf(w, "last upgrade: %s %s\n", u.At.Format("2006-01-02 15:04:05"), outcome)
	}
}
