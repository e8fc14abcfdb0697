//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// plain is the demo's handler on a plain http.Server (e2e/cmd/plaindemo):
// the baseline of section 6 only.
const plain kind = "plain"

// steadyKinds are section 6's servers, in the order of the first round.
var steadyKinds = []kind{handoff, plain, tableflip}

// steadyResult is section 6: requests per second without upgrades, each
// server measured in turn with wrk, the order rotating every round.
type steadyResult struct {
	Err     string         `json:"error,omitempty"`
	Window  time.Duration  `json:"window_ns"`
	Conns   int            `json:"conns"`
	Servers []steadyServer `json:"servers"` // in steadyKinds order
}

// steadyServer is one server's rounds of section 6.
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

// measureSteady starts the three servers once and runs wrk on each in
// turn, rounds times.
func (h *harness) measureSteady(conns, rounds int, window time.Duration) (res steadyResult) {
	res = steadyResult{Window: window, Conns: conns}
	perKind, errs := map[kind][]float64{}, map[kind]int64{}
	defer func() { res.Servers = steadyFigures(perKind, errs) }()
	if h.wrk == "" {
		res.Err = "skipped: wrk not installed (apt-get install -y wrk)"
		return res
	}
	servers := map[kind]*server{}
	defer func() {
		for _, s := range servers {
			h.stopServer(s)
		}
	}()
	for _, k := range steadyKinds {
		s, err := h.startServer(k, "steady", 1)
		if err != nil {
			res.Err = err.Error()
			return res
		}
		servers[k] = s
	}
	for r := range rounds {
		for i := range steadyKinds {
			if h.outOfTime() {
				res.Err = errOutOfTime.Error()
				return res
			}
			k := steadyKinds[(i+r)%len(steadyKinds)]
			w, err := h.wrkFor(servers[k].addr, conns, window)
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

// wrkFor runs `wrk -t2 -c<conns> -d<window>` against addr and returns
// its summary.
func (h *harness) wrkFor(addr string, conns int, window time.Duration) (wrkResult, error) {
	dir, err := h.tempDir()
	if err != nil {
		return wrkResult{}, err
	}
	defer h.removeDir(dir)
	out := filepath.Join(dir, "wrk.out")
	secs := strconv.Itoa(max(1, int(window/time.Second)))
	pid, err := h.spawn(h.wrk, []string{"-t2", "-c" + strconv.Itoa(conns), "-d" + secs + "s", "http://" + addr + "/"}, out)
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w", err)
	}
	exited := pollUntil(time.Now().Add(window+10*time.Second), 5*time.Millisecond, func() bool {
		_, gone := h.reaper.Exited(pid)
		return gone
	})
	h.killGroup(pid)
	if !exited {
		return wrkResult{}, fmt.Errorf("wrk did not finish within %v", window+10*time.Second)
	}
	b, _ := os.ReadFile(out)
	return parseWrk(string(b))
}
