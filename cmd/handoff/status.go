package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/handoff-go/handoff/internal/wire"
	"github.com/handoff-go/handoff/upgrader"
)

func runStatus(args []string, stdout io.Writer) error {
	fs, control := newFlags("status", stdout)
	asJSON := fs.Bool("json", false, "print the status as JSON, for programs")
	if err := parse(fs, control, args); err != nil {
		return err
	}
	st, err := fetchStatus(*control)
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

// maxStatusPages bounds how many pages fetchStatus asks for: a set that
// keeps changing under it must not keep it asking for ever.
const maxStatusPages = 1000

// fetchStatus asks for the status page by page: a server with more
// listeners than fit in one frame sends them in pages.
func fetchStatus(path string) (upgrader.Status, error) {
	st, err := fetchStatusPage(path, 0)
	for page := 1; err == nil && len(st.Listeners) < st.ListenersTotal; page++ {
		var more upgrader.Status
		more, err = fetchStatusPage(path, len(st.Listeners))
		if err == nil && (len(more.Listeners) == 0 || page >= maxStatusPages) {
			err = fmt.Errorf("status from %s: listed %d of %d listeners, then no more", path,
				len(st.Listeners), st.ListenersTotal)
		}
		st.Listeners = append(st.Listeners, more.Listeners...)
	}
	return st, err
}

func fetchStatusPage(path string, from int) (upgrader.Status, error) {
	var st upgrader.Status
	c, err := dial(path, wire.Request{Op: wire.OpStatus, From: from})
	if err != nil {
		return st, err
	}
	defer c.Close()
	if err := c.Expect(wire.TypeStatus, &st); err != nil {
		return st, fmt.Errorf("status from %s: %w", path, refusal(err))
	}
	return st, nil
}

func printStatus(w io.Writer, st upgrader.Status) {
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
		if u.Error != "" {
			outcome = "failed: " + u.Error
		}
		fmt.Fprintf(w, "last upgrade: %s %s\n", u.At.Format("2006-01-02 15:04:05"), outcome)
	}
}
