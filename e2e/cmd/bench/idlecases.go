//go:build linux

package main

import (
	"time"
)

// idleCase is one of the two cases of section 5: keep-alive clients that
// mostly wait, through upgrades.
type idleCase struct {
	Name     string        `json:"name"`
	Conns    int           `json:"conns"`
	Check    bool          `json:"check_before_reuse"`
	Pause    time.Duration `json:"pause_ns"`
	Upgrades int           `json:"upgrades"`
}

// idleCases are section 5's cases, as the issue that asked for them
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

// measureIdleCase runs c on k: the clients connect, then c.Upgrades
// upgrades follow one another (each waits for the old pid to exit), then
// the clients stop.
func (h *harness) measureIdleCase(k kind, c idleCase) (r idleRun) {
	r.Server = k
	if h.outOfTime() {
		r.Err = errOutOfTime.Error()
		return r
	}
	s, err := h.startServer(k, "idle-"+c.Name, 1)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer h.stopServer(s)
	budget := 30*time.Second + time.Duration(c.Upgrades)*(3*time.Second+2*c.Pause)
	end := earliest(budget, h.end)
	p, err := startPooled(s.addr, c.Conns, c.Check, c.Pause, end.Add(5*time.Second))
	if err != nil {
		r.Err = err.Error()
		return r
	}
	settle := min(c.Pause, 2*time.Second) // every client has sent again once
	time.Sleep(settle)
	p.redials.Store(0) // only what the upgrades cause
	ser := h.spacedSeries(s, c.Upgrades, c.Pause+c.Pause/5, end)
	time.Sleep(c.Pause + c.Pause/5) // every client has used its connection since the last upgrade
	r.Clients = p.finish()
	r.Done, r.Failures, r.Refused, r.Phases = ser.done, ser.failures, ser.refused, ser.phases.figures()
	r.RedialsPerUpgrade = frac(float64(r.Clients.Redials), float64(r.Done*c.Conns))
	var gone []time.Duration
	for i := range min(len(ser.ready), len(ser.gone)) {
		gone = append(gone, ser.ready[i]+ser.gone[i])
	}
	r.Gone = summarize(gone)
	return r
}

// spacedSeries is upgradeSeries with at least every between one trigger and
// the next, so that every client uses its connection between upgrades
// (else a series of fast upgrades would be over before most clients
// noticed any).
func (h *harness) spacedSeries(s *server, n int, every time.Duration, end time.Time) series {
	st := h.newStepper(s, n, end)
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
