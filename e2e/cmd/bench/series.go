//go:build linux

package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/load"
)

// maxFailures ends a series early: past it the server is broken, and
// waiting out more timeouts would only stretch the run.
const maxFailures = 3

// series is the outcome of upgrades done one after another, each waiting
// for the old process to exit before the next trigger.
type series struct {
	asked    int              // upgrades asked for
	done     int              // upgrades that produced a new pid
	failures []string         // why the others (or their drains) failed
	stopped  string           // why the series ended early, if it did
	refused  map[string]int64 // triggers turned down and re-sent, by reason
	ready    []time.Duration  // trigger to new pid in the pid file
	gone     []time.Duration  // new pid in the pid file to old pid exited
	phases   phaseSamples     // the same upgrades by the servers' own steps
	oldPIDs  []int            // the generations replaced
}

// upgradeSeries upgrades s n times, or until end or maxFailures.
func (h *harness) upgradeSeries(s *server, n int, end time.Time) series {
	st := h.newStepper(s, n, end)
	for st.step() {
	}
	return st.out
}

// stepper runs a series one upgrade at a time, so that two servers'
// series can be interleaved.
type stepper struct {
	h        *harness
	s        *server
	end      time.Time
	pid      int // the serving generation
	attempts int
	out      series
}

func (h *harness) newStepper(s *server, n int, end time.Time) *stepper {
	return &stepper{h: h, s: s, end: end, pid: s.pgid,
		out: series{asked: n, refused: map[string]int64{}}}
}

// step does the next upgrade and waits for the old process to exit. It
// returns false, doing nothing, once the series is over.
func (st *stepper) step() bool {
	if !st.more() {
		return false
	}
	st.attempts++
	up, refused, err := st.h.upgrade(st.s, st.pid, st.end)
	for _, r := range refused {
		st.out.refused[r]++
	}
	if err != nil {
		st.out.failures = append(st.out.failures, err.Error())
		if errors.Is(err, errServerGone) {
			st.out.stopped = fmt.Sprintf("stopped after %d of %d upgrades: the server is gone", st.out.done, st.out.asked)
		}
		return true
	}
	st.out.done++
	st.out.ready = append(st.out.ready, up.took)
	st.out.oldPIDs = append(st.out.oldPIDs, st.pid)
	var goneAt time.Time
	if gone, err := st.h.waitGone(st.s, st.pid, st.end); err != nil {
		st.out.failures = append(st.out.failures, err.Error())
	} else {
		goneAt = time.Now()
		st.out.gone = append(st.out.gone, gone)
	}
	// The old process has hung up by now if it is gone: the wait is for
	// the bench's reader to notice.
	st.out.phases.add(phasesOf(up.start, up.next, up.attempt.settle(time.Second), goneAt))
	st.pid = up.next
	return true
}

// more reports whether the series goes on, noting why not if it ends early.
func (st *stepper) more() bool {
	o := &st.out
	switch {
	case o.stopped != "" || st.attempts >= o.asked:
		return false
	case len(o.failures) >= maxFailures:
		o.stopped = fmt.Sprintf("stopped after %d errors (%d of %d upgrades done)", maxFailures, o.done, o.asked)
		return false
	case time.Now().After(st.end):
		o.stopped = fmt.Sprintf("time budget spent after %d of %d upgrades", o.done, o.asked)
		return false
	}
	return true
}

// badExits waits briefly for the reaper to collect pids and counts those
// that did not exit 0, by how they ended.
func (h *harness) badExits(pids []int) map[string]int64 {
	bad := map[string]int64{}
	h.awaitReaped(pids)
	for _, pid := range pids {
		rec, ok := h.reaper.Exited(pid)
		switch {
		case !ok:
			bad["not reaped"]++
		case !rec.OK():
			bad[rec.String()]++
		}
	}
	return bad
}

// awaitReaped gives the reaper up to a second to collect pids.
func (h *harness) awaitReaped(pids []int) {
	pollUntil(time.Now().Add(time.Second), 10*time.Millisecond, func() bool {
		for _, pid := range pids {
			if _, ok := h.reaper.Exited(pid); !ok {
				return false
			}
		}
		return true
	})
}

// outcome is one server's run of upgrades under load.
type outcome struct {
	err      error // the run itself failed (server or load did not start)
	series   series
	load     loadResult
	badExits map[string]int64
	logs     logSummary
}

// upgradesUnderLoad starts k fresh, puts clients of mode on it, and runs
// n upgrades one after another within budget.
func (h *harness) upgradesUnderLoad(k kind, label string, mode load.Mode, clients, n int, budget time.Duration) (o outcome) {
	if h.outOfTime() {
		return outcome{err: errOutOfTime}
	}
	s, err := h.startServer(k, label, 1)
	if err != nil {
		return outcome{err: err}
	}
	defer func() { o.logs = summarizeLog(h.stopServer(s)) }()
	end := earliest(budget, h.end)
	d, err := h.startDriver(mode, s.addr, clients, end)
	if err != nil {
		o.err = err
		return o
	}
	o.series = h.upgradeSeries(s, n, end)
	time.Sleep(200 * time.Millisecond) // failures trailing the last upgrade
	o.load, o.err = d.finish()
	o.badExits = h.badExits(o.series.oldPIDs)
	return o
}
