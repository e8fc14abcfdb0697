//go:build linux

package main

import (
	"fmt"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/load"
)

// results holds every measurement, each as [handoff, tableflip].
type results struct {
	opts      options
	machine   machine
	lost      map[load.Mode][2]outcome
	through   [2]throughput
	times     map[int][2]timing
	gone      [2]outcome
	elapsed   time.Duration
	loadAvg   [2]float64 // 1-minute load average before and after
	leftovers []int      // processes of ours still alive at the end
	groups    int        // process groups started
	idle      idleFigures
}

// seriesBudget bounds a series of n upgrades.
func seriesBudget(n int) time.Duration { return 20*time.Second + time.Duration(n)*time.Second }

// measureAll runs every section, handoff and tableflip alternately.
func (h *harness) measureAll(o options) *results {
	start := time.Now()
	res := &results{opts: o, machine: readMachine(), loadAvg: [2]float64{loadAverage()},
		lost: map[load.Mode][2]outcome{}, times: map[int][2]timing{}}
	if o.only == "idle" {
		res.idle = h.measureIdle(o)
		res.elapsed = time.Since(start)
		res.loadAvg[1] = loadAverage()
		return res
	}
	h.measureLost(o, res)
	res.through = alternate(func(k kind) throughput {
		t := h.measureThroughput(k, o.clients, o.window)
		progress("throughput %s: idle %.0f req/s, upgrading %.0f req/s, %d of %d upgrades", k,
			rate(t.idle), rate(t.busy), t.done, t.sent)
		return t
	})
	h.measureTimes(o, res)
	res.gone = alternate(func(k kind) outcome {
		out := h.upgradesUnderLoad(k, "gone", load.KeepAlive, o.clients, o.goneN, seriesBudget(o.goneN))
		progress("old gone %s: median %v; %s", k, median(out.series.gone), out.brief())
		return out
	})
	res.idle = h.measureIdle(o)
	res.elapsed = time.Since(start)
	res.loadAvg[1] = loadAverage()
	return res
}

// measureLost is section 1: requests lost per upgrade, by client mode.
func (h *harness) measureLost(o options, res *results) {
	for _, mode := range modes {
		if mode == wrkMode && h.wrk == "" {
			continue
		}
		res.lost[mode] = alternate(func(k kind) outcome {
			out := h.upgradesUnderLoad(k, "lost-"+string(mode), mode, o.clients, o.upgrades, seriesBudget(o.upgrades))
			progress("lost/%s %s: %s", mode, k, out.brief())
			return out
		})
	}
}

// measureTimes is section 3: upgrade time by listener count.
func (h *harness) measureTimes(o options, res *results) {
	for _, n := range o.listeners {
		res.times[n] = h.measureUpgradeTimes(n, o.timeK)
		for i, k := range kinds {
			t := res.times[n][i]
			progress("upgrade time %s at %d listeners: median %v (%s)", k, n, median(t.series.ready), errText(t.err))
		}
	}
}

// alternate runs f for handoff, then for tableflip.
func alternate[T any](f func(kind) T) [2]T {
	return [2]T{f(kinds[0]), f(kinds[1])}
}

// brief is a one-line progress summary.
func (o outcome) brief() string {
	if o.err != nil {
		return "failed: " + o.err.Error()
	}
	return fmt.Sprintf("%d/%d upgrades, lost %d (%s), %d failures", o.series.done, o.series.asked,
		o.load.lost, formatCounts(o.load.errors), len(o.series.failures))
}

// rate is requests answered per second.
func rate(r loadResult) float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}
