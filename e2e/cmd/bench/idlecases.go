//go:build linux

package main

import (
	"errors"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/harness"
)

// idleCase is one of the two cases of section idle: keep-alive clients that
// mostly wait, through upgrades.
type idleCase struct {
	Name     string        `json:"name"`
	Conns    int           `json:"conns"`
	Check    bool          `json:"check_before_reuse"`
	Pause    time.Duration `json:"pause_ns"`
	Upgrades int           `json:"upgrades"`
}

// idleCases are section idle's cases, as the issue that asked for them
// states them.
func idleCases(quick bool) []idleCase {
	cs := []idleCase{
		{Name: "sparse", Conns: 300, Check: false, Pause: 300 * time.Millisecond, Upgrades: 20},
		{Name: "many-idle", Conns: 10000, Check: true, Pause: 5 * time.Second, Upgrades: 10},
	}
	if quick {
		cs[0].Conns, cs[0].Upgrades = 100, 5
		cs[1].Conns, cs[1].Upgrades, cs[1].Pause = 1000, 3, time.Second
	}
	return cs
}

// idleRun is one server's run of an idleCase.
type idleRun struct {
	Server   kind             `json:"server"`
	Err      string           `json:"error,omitempty"`
	Done     int              `json:"upgrades_done"`
	Failures []string         `json:"failures,omitempty"`
	Refused  map[string]int64 `json:"refused,omitempty"`
	Clients  pooledResult     `json:"clients"`
	// RedialsPerUpgrade is the share of clients that opened a new
	// connection, per upgrade.
	RedialsPerUpgrade float64      `json:"redials_per_upgrade"`
	Gone              dist         `json:"trigger_to_old_gone"`
	Phases            phaseFigures `json:"phases"`
}

// idleFigures are sections idle and steady of the report.
type idleFigures struct {
	Cases  []idleCaseRuns `json:"idle_cases"`
	Steady steadyResult   `json:"steady_state"`
}

// idleCaseRuns is one case with its handoff and tableflip runs.
type idleCaseRuns struct {
	Case idleCase   `json:"case"`
	Runs [2]idleRun `json:"runs"` // handoff, tableflip
}

// runIdle is section idle: each case's upgrades in two rounds (AB, then
// BA), each on fresh servers with fresh clients.
func runIdle(b *bench, o options, rep *report) {
	for _, c := range idleCases(o.quick) {
		shares := halves(c.Upgrades)
		rounds := inRounds(len(shares), func(r int, k kind) idleSample { return b.measureIdleCase(k, c, shares[r]) })
		cr := idleCaseRuns{Case: c}
		for i, k := range pair {
			cr.Runs[i] = sumIdle(rounds[i]).figures(k, c.Conns)
			r := cr.Runs[i]
			progress("idle/%s %s: %d upgrades, %d ok, %d lost, %.1f%% redials per upgrade, old gone median %v %s",
				c.Name, k, r.Done, r.Clients.OK, r.Clients.Lost, 100*r.RedialsPerUpgrade, r.Gone.Median, r.Err)
		}
		rep.Idle.Cases = append(rep.Idle.Cases, cr)
	}
}

// idleSample is one round of an idleCase on one server.
type idleSample struct {
	err     error
	clients pooledResult
	series  series
	gone    []time.Duration // trigger to old gone, per upgrade
}

// sumIdle adds up a server's rounds; an error in any marks the sum.
func sumIdle(rounds []idleSample) idleSample {
	sum := idleSample{clients: pooledResult{Errors: map[string]int64{}}}
	for _, r := range rounds {
		sum.err = errors.Join(sum.err, r.err)
		sum.series = sum.series.plus(r.series)
		sum.gone = append(sum.gone, r.gone...)
		sum.clients.OK += r.clients.OK
		sum.clients.Lost += r.clients.Lost
		sum.clients.Redials += r.clients.Redials
		addCounts(sum.clients.Errors, r.clients.Errors)
	}
	return sum
}

// figures of a server's rounds of a case with conns clients.
func (s idleSample) figures(k kind, conns int) idleRun {
	r := idleRun{Server: k}
	if s.err != nil {
		r.Err = s.err.Error()
		return r
	}
	r.Clients, r.Done, r.Failures, r.Refused = s.clients, s.series.done, s.series.failures, s.series.refused
	r.Phases, r.Gone = s.series.phases.figures(), summarize(s.gone)
	r.RedialsPerUpgrade = frac(float64(r.Clients.Redials), float64(r.Done*conns))
	return r
}

// measureIdleCase runs c on k with n upgrades: the clients connect, then
// the upgrades follow one another (each waits for the old pid to exit),
// then the clients stop.
func (b *bench) measureIdleCase(k kind, c idleCase, n int) (r idleSample) {
	if b.outOfTime() {
		return idleSample{err: errOutOfTime}
	}
	s, err := b.startServer(k, "idle-"+c.Name, 1)
	if err != nil {
		return idleSample{err: err}
	}
	defer b.stopServer(s)
	budget := 30*time.Second + time.Duration(n)*(3*time.Second+2*c.Pause)
	end := harness.Earliest(budget, b.end)
	p, err := startPooled(s.addr, c.Conns, c.Check, c.Pause, end.Add(5*time.Second))
	if err != nil {
		return idleSample{err: err}
	}
	settle := min(c.Pause, 2*time.Second) // every client has sent again once
	time.Sleep(settle)
	p.redials.Store(0) // only what the upgrades cause
	r.series = b.spacedSeries(s, n, c.Pause+c.Pause/5, end)
	time.Sleep(c.Pause + c.Pause/5) // every client has used its connection since the last upgrade
	r.clients = p.finish()
	for i := range min(len(r.series.ready), len(r.series.gone)) {
		r.gone = append(r.gone, r.series.ready[i]+r.series.gone[i])
	}
	return r
}

// spacedSeries is upgradeSeries with at least every between one trigger and
// the next, so that every client uses its connection between upgrades
// (else a series of fast upgrades would be over before most clients
// noticed any).
func (b *bench) spacedSeries(s *server, n int, every time.Duration, end time.Time) series {
	st := b.newStepper(s, n, end)
	for {
		start := time.Now()
		if !st.step() {
			return st.out
		}
		if wait := time.Until(start.Add(every)); wait > 0 && time.Now().Add(wait).Before(end) {
			time.Sleep(wait)
		}
	}
}
