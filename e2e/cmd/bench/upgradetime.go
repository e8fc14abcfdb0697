//go:build linux

package main

import (
	"fmt"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/harness"
)

// timing is one server's upgrade times at a listener count, without load.
type timing struct {
	err    error
	series series
	cpu    []time.Duration // CPU time of each replaced generation, start to exit
	logs   logSummary
}

// runTimes is section upgrade-time.
func runTimes(b *bench, o options, rep *report) {
	f := rep.restarts()
	for _, n := range o.listeners {
		t := b.measureUpgradeTimes(n, o.timeK)
		at := timesAt{Listeners: n}
		for i, k := range pair {
			at.Runs[i] = t[i].figures(k)
			progress("upgrade time %s at %d listeners: median %v (%s)", k, n, median(t[i].series.ready), errText(t[i].err))
		}
		at.Ratio = frac(float64(at.Runs[0].ToNewPID.Median), float64(at.Runs[1].ToNewPID.Median))
		f.Times = append(f.Times, at)
	}
}

// measureUpgradeTimes starts both servers with that many listeners and
// upgrades them in rounds of one upgrade each, so that whatever else the
// machine does weighs on both alike.
func (b *bench) measureUpgradeTimes(listeners, times int) (t [2]timing) {
	if b.outOfTime() {
		return [2]timing{{err: errOutOfTime}, {err: errOutOfTime}}
	}
	end := harness.Earliest(seriesBudget(2*times), b.end)
	var steppers [2]*stepper
	for i, k := range pair {
		s, err := b.startServer(k, fmt.Sprintf("time%d", listeners), listeners)
		if err != nil {
			t[i].err = err
			continue
		}
		steppers[i] = b.newStepper(s, times, end)
	}
	for r, stepping := 0, true; stepping; r++ {
		stepping = false
		for _, i := range order(r, len(pair)) {
			if st := steppers[i]; st != nil && st.step() {
				stepping = true
			}
		}
	}
	for i, st := range steppers {
		if st != nil {
			t[i] = b.finishTiming(st)
		}
	}
	return t
}

// finishTiming stops the server st upgraded and collects its numbers.
func (b *bench) finishTiming(st *stepper) timing {
	log := b.stopServer(st.s)
	b.awaitReaped(st.out.oldPIDs)
	return timing{series: st.out, cpu: b.reaper.CPUOf(st.out.oldPIDs), logs: summarizeLog(log)}
}

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}
