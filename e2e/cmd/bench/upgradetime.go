//go:build linux

package main

import (
	"fmt"
	"time"
)

// timing is one server's upgrade times at a listener count, without load.
type timing struct {
	err    error
	series series
	cpu    []time.Duration // CPU time of each replaced generation, start to exit
	logs   logSummary
}

// measureUpgradeTimes starts both servers with that many listeners and
// upgrades them in turn, one upgrade each at a time, so that whatever
// else the machine does weighs on both alike.
func (h *harness) measureUpgradeTimes(listeners, times int) (t [2]timing) {
	if h.outOfTime() {
		return [2]timing{{err: errOutOfTime}, {err: errOutOfTime}}
	}
	end := earliest(seriesBudget(2*times), h.end)
	var steppers [2]*stepper
	for i, k := range kinds {
		s, err := h.startServer(k, fmt.Sprintf("time%d", listeners), listeners)
		if err != nil {
			t[i].err = err
			continue
		}
		steppers[i] = h.newStepper(s, times, end)
	}
	for stepping := true; stepping; {
		stepping = false
		for _, st := range steppers {
			if st != nil && st.step() {
				stepping = true
			}
		}
	}
	for i, st := range steppers {
		if st != nil {
			t[i] = h.finishTiming(st)
		}
	}
	return t
}

// finishTiming stops the server st upgraded and collects its numbers.
func (h *harness) finishTiming(st *stepper) timing {
	log := h.stopServer(st.s)
	h.awaitReaped(st.out.oldPIDs)
	return timing{series: st.out, cpu: h.reaper.CPUOf(st.out.oldPIDs), logs: summarizeLog(log)}
}
