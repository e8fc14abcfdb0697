//go:build linux

package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/harness"
	"github.com/handoff-go/handoff/e2e/internal/load"
)

// seriesBudget bounds a series of n upgrades.
func seriesBudget(n int) time.Duration { return 20*time.Second + time.Duration(n)*time.Second }

// runLost is section lost: requests lost per upgrade, by client mode.
func runLost(b *bench, o options, rep *report) {
	f := rep.restarts()
	for _, mode := range modes {
		lm := lostMode{Mode: string(mode)}
		if mode == wrkMode && b.wrk == "" {
			lm.Skipped = "wrk not installed"
			lm.Runs = [2]seriesRun{{Server: handoff}, {Server: tableflip}}
		} else {
			out := b.underLoadInRounds("lost-"+string(mode), mode, o.clients, o.upgrades)
			for i, k := range pair {
				lm.Runs[i] = out[i].figures(k)
				progress("lost/%s %s: %s", mode, k, out[i].brief())
			}
		}
		f.Lost = append(f.Lost, lm)
	}
}

// runGone is section old-gone: how soon the old process is gone, under
// keep-alive load.
func runGone(b *bench, o options, rep *report) {
	out := b.underLoadInRounds("gone", load.KeepAlive, o.clients, o.goneN)
	for i, k := range pair {
		rep.restarts().Gone[i] = out[i].figures(k)
		progress("old gone %s: median %v; %s", k, median(out[i].series.gone), out[i].brief())
	}
}

// underLoadInRounds runs n upgrades of each server under clients of mode,
// in two rounds (AB, then BA), each on a fresh server, and sums each
// server's rounds.
func (b *bench) underLoadInRounds(label string, mode load.Mode, clients, n int) [2]outcome {
	shares := halves(n)
	runs := inRounds(len(shares), func(r int, k kind) outcome {
		return b.upgradesUnderLoad(k, label, mode, clients, shares[r], seriesBudget(shares[r]))
	})
	var out [2]outcome
	for i := range out {
		out[i] = runs[i][0]
		for _, o := range runs[i][1:] {
			out[i] = out[i].plus(o)
		}
	}
	return out
}

// plus is o and then p, a later round of the same server: a round that
// failed makes the pair fail.
func (o outcome) plus(p outcome) outcome {
	out := outcome{err: errors.Join(o.err, p.err), series: o.series.plus(p.series), load: o.load,
		badExits: map[string]int64{}, logs: logSummary{}}
	out.load.add(p.load)
	addCounts(out.badExits, o.badExits)
	addCounts(out.badExits, p.badExits)
	addCounts(out.logs, o.logs)
	addCounts(out.logs, p.logs)
	return out
}

// badExits waits briefly for the reaper to collect pids and counts those
// that did not exit 0, by how they ended.
func (b *bench) badExits(pids []int) map[string]int64 {
	bad := map[string]int64{}
	b.awaitReaped(pids)
	for _, pid := range pids {
		rec, ok := b.reaper.Exited(pid)
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
func (b *bench) awaitReaped(pids []int) {
	harness.Until(time.Now().Add(time.Second), 10*time.Millisecond, func() bool {
		for _, pid := range pids {
			if _, ok := b.reaper.Exited(pid); !ok {
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
func (b *bench) upgradesUnderLoad(k kind, label string, mode load.Mode, clients, n int, budget time.Duration) (o outcome) {
	if b.outOfTime() {
		return outcome{err: errOutOfTime}
	}
	s, err := b.startServer(k, label, 1)
	if err != nil {
		return outcome{err: err}
	}
	defer func() { o.logs = summarizeLog(b.stopServer(s)) }()
	end := harness.Earliest(budget, b.end)
	d, err := b.startDriver(mode, s.addr, clients, end)
	if err != nil {
		o.err = err
		return o
	}
	o.series = b.upgradeSeries(s, n, end)
	time.Sleep(200 * time.Millisecond) // failures trailing the last upgrade
	o.load, o.err = d.finish()
	o.badExits = b.badExits(o.series.oldPIDs)
	return o
}

// brief is a one-line progress summary.
func (o outcome) brief() string {
	if o.err != nil {
		return "failed: " + o.err.Error()
	}
	return fmt.Sprintf("%d/%d upgrades, lost %d (%s), %d failures", o.series.done, o.series.asked,
		o.load.lost, formatCounts(o.load.errors), len(o.series.failures))
}
