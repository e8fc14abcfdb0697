//go:build linux

package main

import (
	"errors"
	"fmt"
	"slices"
	"time"
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
func (b *bench) upgradeSeries(s *server, n int, end time.Time) series {
	st := b.newStepper(s, n, end)
	for st.step() {
	}
	return st.out
}

// stepper runs a series one upgrade at a time, so that two servers'
// series can be interleaved.
type stepper struct {
	b        *bench
	s        *server
	end      time.Time
	pid      int // the serving generation
	attempts int
	out      series
}

func (b *bench) newStepper(s *server, n int, end time.Time) *stepper {
	return &stepper{b: b, s: s, end: end, pid: s.pgid,
		out: series{asked: n, refused: map[string]int64{}}}
}

// step does the next upgrade and waits for the old process to exit. It
// returns false, doing nothing, once the series is over.
func (st *stepper) step() bool {
	if !st.more() {
		return false
	}
	st.attempts++
	up, refused, err := st.b.upgrade(st.s, st.pid, st.end)
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
	if gone, err := st.b.waitGone(st.s, st.pid, st.end); err != nil {
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

// plus is s and then t, run on another server of the same kind: the
// rounds of one server's series, summed.
func (s series) plus(t series) series {
	out := series{asked: s.asked + t.asked, done: s.done + t.done, refused: map[string]int64{},
		failures: slices.Concat(s.failures, t.failures), ready: slices.Concat(s.ready, t.ready),
		gone: slices.Concat(s.gone, t.gone), oldPIDs: slices.Concat(s.oldPIDs, t.oldPIDs),
		phases: s.phases.plus(t.phases)}
	for _, why := range []string{s.stopped, t.stopped} {
		if why != "" && out.stopped != "" {
			out.stopped += "; "
		}
		out.stopped += why
	}
	addCounts(out.refused, s.refused)
	addCounts(out.refused, t.refused)
	return out
}

// addCounts adds the counts of from to to.
func addCounts[M ~map[string]V, V int | int64](to, from M) {
	for k, n := range from {
		to[k] += n
	}
}
