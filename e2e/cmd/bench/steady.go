//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
	Err     string             `json:"error,omitempty"`
	Window  time.Duration      `json:"window_ns"`
	Conns   int                `json:"conns"`
	PerKind map[kind][]float64 `json:"requests_per_second"` // one per round
	Errors  map[kind]int64     `json:"errors"`              // wrk's failed requests, all rounds
}

// Median is the median requests per second of k.
func (s steadyResult) Median(k kind) float64 {
	v := slices.Clone(s.PerKind[k])
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// measureSteady starts the three servers once and runs wrk on each in
// turn, rounds times.
func (h *harness) measureSteady(conns, rounds int, window time.Duration) (res steadyResult) {
	res = steadyResult{Window: window, Conns: conns, PerKind: map[kind][]float64{}, Errors: map[kind]int64{}}
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
			res.PerKind[k] = append(res.PerKind[k], w.requestsPerSec)
			res.Errors[k] += w.lost()
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
