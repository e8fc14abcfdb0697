//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// idleFigures is what sections 5 and 6 measured, as written to the JSON
// file of the run; the Markdown of those sections is rendered from it
// alone. Definitions and targets are in e2e/cmd/bench/README.md.
type idleFigures struct {
	Cases  []idleCaseRuns `json:"idle_cases"`
	Steady steadyResult   `json:"steady_state"`
}

// idleCaseRuns is one case with its handoff and tableflip runs.
type idleCaseRuns struct {
	Case idleCase   `json:"case"`
	Runs [2]idleRun `json:"runs"` // handoff, tableflip
}

// measureIdle runs sections 5 and 6.
func (h *harness) measureIdle(o options) idleFigures {
	var f idleFigures
	for _, c := range idleCases(o.quick) {
		runs := alternate(func(k kind) idleRun {
			r := h.measureIdleCase(k, c)
			progress("idle/%s %s: %d upgrades, %d ok, %d lost, %.1f%% redials per upgrade, old gone median %v %s",
				c.Name, k, r.Done, r.Clients.OK, r.Clients.Lost, 100*r.RedialsPerUpgrade(c.Conns), median(r.Gone), r.Err)
			return r
		})
		f.Cases = append(f.Cases, idleCaseRuns{Case: c, Runs: runs})
	}
	rounds, window := 5, 5*time.Second
	if o.quick {
		rounds, window = 1, 2*time.Second
	}
	f.Steady = h.measureSteady(o.clients, rounds, window)
	progress("steady state: handoff %.0f, plain %.0f, tableflip %.0f req/s (median) %s",
		f.Steady.Median(handoff), f.Steady.Median(plain), f.Steady.Median(tableflip), f.Steady.Err)
	return f
}

// writeJSON writes f to path.
func (f idleFigures) writeJSON(path string) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode figures: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write figures: %w", err)
	}
	return nil
}

// markdown renders sections 5 and 6 from f.
func (f idleFigures) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## 5. Idle keep-alive connections through upgrades\n\n")
	t := table{header: []string{"case", "server", "upgrades", "answered", "lost", "redials per upgrade (share of clients)", "SIGHUP → old gone (median, max)"}}
	for _, cr := range f.Cases {
		c := cr.Case
		name := fmt.Sprintf("%s: %d conns, %v apart, %s", c.Name, c.Conns, c.Pause, map[bool]string{true: "check before reuse", false: "no check"}[c.Check])
		for _, r := range cr.Runs {
			if r.Err != "" {
				t.add(name, string(r.Server), "failed: "+r.Err)
				continue
			}
			t.add(name, string(r.Server), fmt.Sprintf("%d of %d", r.Done, c.Upgrades),
				fmt.Sprint(r.Clients.OK), fmt.Sprintf("%d %s", r.Clients.Lost, formatCounts(r.Clients.Errors)),
				fmt.Sprintf("%.1f%% (%d)", 100*r.RedialsPerUpgrade(c.Conns), r.Clients.Redials),
				fmt.Sprintf("%v, %v", median(r.Gone).Round(time.Millisecond/10), maxOf(r.Gone).Round(time.Millisecond/10)))
		}
	}
	b.WriteString(t.markdown())
	fmt.Fprintf(&b, "\n## 6. Steady-state throughput, no upgrades\n\n")
	s := f.Steady
	if s.Err != "" {
		fmt.Fprintf(&b, "%s\n\n", s.Err)
	}
	st := table{header: []string{"server", "requests/s (median)", "÷ plain http.Server", "each round", "wrk errors"}}
	for _, k := range steadyKinds {
		ratio := 0.0
		if p := s.Median(plain); p > 0 {
			ratio = s.Median(k) / p
		}
		st.add(string(k), fmt.Sprintf("%.0f", s.Median(k)), fmt.Sprintf("%.3fx", ratio), fmt.Sprint(roundAll(s.PerKind[k])), fmt.Sprint(s.Errors[k]))
	}
	fmt.Fprintf(&b, "wrk -t2 -c%d for %v per round, the three servers in turn, the order rotating each round.\n\n%s\n", s.Conns, s.Window, st.markdown())
	return b.String()
}

func maxOf(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

func roundAll(v []float64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x + 0.5)
	}
	return out
}
