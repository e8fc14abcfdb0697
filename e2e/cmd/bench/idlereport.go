//go:build linux

package main

import (
	"time"
)

// idleFigures are sections 5 and 6 of the report.
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
				c.Name, k, r.Done, r.Clients.OK, r.Clients.Lost, 100*r.RedialsPerUpgrade, r.Gone.Median, r.Err)
			return r
		})
		f.Cases = append(f.Cases, idleCaseRuns{Case: c, Runs: runs})
	}
	rounds, window := 5, 5*time.Second
	if o.quick {
		rounds, window = 1, 2*time.Second
	}
	f.Steady = h.measureSteady(o.clients, rounds, window)
	for _, sv := range f.Steady.Servers {
		progress("steady state %s: %.0f req/s (median) %s", sv.Server, sv.Median, f.Steady.Err)
	}
	return f
}
