//go:build linux

package main

import (
	"time"
)

// plain is the demo's handler on a plain http.Server (e2e/cmd/plaindemo):
// the baseline of section steady only.
const plain kind = "plain"

// steadyKinds are section steady's servers, in the order of the first
// round.
var steadyKinds = []kind{handoff, plain, tableflip}

// steadyResult is section steady: requests per second without upgrades,
// each server measured in turn with wrk, the order rotating every round.
type steadyResult struct {
	Err     string         `json:"error,omitempty"`
	Window  time.Duration  `json:"window_ns"`
	Conns   int            `json:"conns"`
	Servers []steadyServer `json:"servers"` // in steadyKinds order
}

// steadyServer is one server's rounds of section steady.
type steadyServer struct {
	Server    kind      `json:"server"`
	Rounds    []float64 `json:"requests_per_second"` // one per round, in round order
	Median    float64   `json:"median"`
	OverPlain float64   `json:"median_over_plain"` // 0 when plain was not measured
	Errors    int64     `json:"wrk_errors"`        // all rounds
}

// steadyFigures sums up each server's rounds.
func steadyFigures(perKind map[kind][]float64, errs map[kind]int64) []steadyServer {
	out := make([]steadyServer, len(steadyKinds))
	for i, k := range steadyKinds {
		out[i] = steadyServer{Server: k, Rounds: perKind[k], Median: summarizeFloats(perKind[k]).Median, Errors: errs[k]}
	}
	for i := range out {
		out[i].OverPlain = frac(out[i].Median, summarizeFloats(perKind[plain]).Median)
	}
	return out
}

// runSteady is section steady.
func runSteady(b *bench, o options, rep *report) {
	rounds, window := 5, 5*time.Second
	if o.quick {
		rounds, window = len(steadyKinds), time.Second // each server first once
	}
	st := b.measureSteady(o.clients, rounds, window)
	for _, sv := range st.Servers {
		progress("steady state %s: %.0f req/s (median) %s", sv.Server, sv.Median, st.Err)
	}
	rep.Idle.Steady = st
}

// measureSteady starts the three servers once and runs wrk on each in
// turn, rounds times, the order rotating each round.
func (b *bench) measureSteady(conns, rounds int, window time.Duration) (res steadyResult) {
	res = steadyResult{Window: window, Conns: conns}
	perKind, errs := map[kind][]float64{}, map[kind]int64{}
	defer func() { res.Servers = steadyFigures(perKind, errs) }()
	if b.wrk == "" {
		res.Err = "skipped: wrk not installed (apt-get install -y wrk)"
		return res
	}
	servers := map[kind]*server{}
	defer func() {
		for _, s := range servers {
			b.stopServer(s)
		}
	}()
	for _, k := range steadyKinds {
		s, err := b.startServer(k, "steady", 1)
		if err != nil {
			res.Err = err.Error()
			return res
		}
		servers[k] = s
	}
	for r := range rounds {
		for _, i := range order(r, len(steadyKinds)) {
			if b.outOfTime() {
				res.Err = errOutOfTime.Error()
				return res
			}
			k := steadyKinds[i]
			w, err := b.wrkFor(servers[k].addr, conns, window)
			if err != nil {
				res.Err = err.Error()
				return res
			}
			perKind[k] = append(perKind[k], w.requestsPerSec)
			errs[k] += w.lost()
		}
	}
	return res
}

// wrkFor runs wrk against addr for window and returns its summary.
func (b *bench) wrkFor(addr string, conns int, window time.Duration) (wrkResult, error) {
	w, err := b.startWrk(addr, conns, window)
	if err != nil {
		return wrkResult{}, err
	}
	return w.result(false, window+10*time.Second)
}
