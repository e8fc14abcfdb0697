//go:build linux

package main

import (
	"slices"
	"sync"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/load"
	"github.com/handoff-go/handoff/e2e/internal/proc"
)

// upgradeEvery is how often the busy windows trigger an upgrade.
const upgradeEvery = 250 * time.Millisecond

// slice is how a window is cut: idle and busy slices alternate, so that
// whatever else loads the machine weighs on both alike.
const slice = 500 * time.Millisecond

// sliceGap separates a busy slice from the next idle one, for the last
// upgrade to finish and its old generation to drain.
const sliceGap = 300 * time.Millisecond

// throughput is one server's keep-alive load in an idle window and in a
// window of upgrades every upgradeEvery.
type throughput struct {
	err        error
	idle, busy loadResult
	sent       int              // triggers sent in the busy window
	refused    map[string]int64 // of them, turned down, by reason
	done       int              // new pids that appeared
	pairRatios []float64        // busy ÷ idle requests/s of each slice pair
	cpu        time.Duration    // of every generation, over the whole run
	answered   int64            // over the whole run, warm-up included
	logs       logSummary
}

// measureThroughput starts k fresh, warms it up, then measures idle and
// busy slices of the windows of length w alternately.
func (h *harness) measureThroughput(k kind, clients int, w time.Duration) (t throughput) {
	if h.outOfTime() {
		return throughput{err: errOutOfTime}
	}
	s, err := h.startServer(k, "throughput", 1)
	if err != nil {
		return throughput{err: err}
	}
	var watch pidWatch
	stop := watch.start(s.pidFile)
	defer func() {
		t.done = stop() - 1
		t.logs = summarizeLog(h.stopServer(s))
		pids := watch.pids()
		h.awaitReaped(pids)
		for _, c := range h.reaper.CPUOf(pids) {
			t.cpu += c
		}
	}()
	warm, err := h.startDriver(load.KeepAlive, s.addr, clients, earliest(w, h.end))
	if err != nil {
		t.err = err
		return t
	}
	time.Sleep(500 * time.Millisecond)
	warmed, _ := warm.finish()
	t.runSlices(h, s, clients, max(int(w/slice), 1))
	t.answered = warmed.ok + t.idle.ok + t.busy.ok
	return t
}

// runSlices measures n pairs of an idle and a busy slice on s.
func (t *throughput) runSlices(h *harness, s *server, clients, n int) {
	t.refused = map[string]int64{}
	for range n {
		var sent []attempt
		idle := keepAliveWindow(s.addr, clients, slice, func(time.Duration) {})
		busy := keepAliveWindow(s.addr, clients, slice, func(d time.Duration) { sent = h.triggerEvery(s, d) })
		t.idle.add(idle)
		t.busy.add(busy)
		t.pairRatios = append(t.pairRatios, rate(busy)/rate(idle))
		t.sent += len(sent)
		gap := time.Now().Add(sliceGap)
		countRefusals(sent, gap, t.refused)
		time.Sleep(time.Until(gap))
	}
	slices.Sort(t.idle.latencies)
	slices.Sort(t.busy.latencies)
}

// add sums o into r; r's latencies need sorting after.
func (r *loadResult) add(o loadResult) {
	r.ok += o.ok
	r.lost += o.lost
	r.elapsed += o.elapsed
	r.latencies = append(r.latencies, o.latencies...)
	if r.errors == nil {
		r.errors = map[string]int64{}
	}
	for k, n := range o.errors {
		r.errors[k] += n
	}
}

// keepAliveWindow runs keep-alive clients while during runs, for at
// least w.
func keepAliveWindow(addr string, clients int, w time.Duration, during func(time.Duration)) loadResult {
	run := load.Start(load.Config{Addr: addr, Clients: clients, Mode: load.KeepAlive, MaxDuration: w + 5*time.Second})
	end := time.Now().Add(w)
	during(w)
	time.Sleep(time.Until(end))
	d := inProcess{run}
	res, _ := d.finish()
	return res
}

// triggerEvery triggers an upgrade of whichever pid the pid file names,
// every upgradeEvery for w, whether or not the last one is over, and
// returns the triggers sent.
func (h *harness) triggerEvery(s *server, w time.Duration) []attempt {
	var sent []attempt
	start := time.Now()
	for i := 0; time.Duration(i)*upgradeEvery < w; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * upgradeEvery)))
		if pid, ok := proc.ReadPID(s.pidFile); ok {
			if a, err := h.trigger(s, pid); err == nil {
				sent = append(sent, a)
			}
		}
	}
	return sent
}

// countRefusals waits until deadline at most for the servers' answers to
// sent and adds those that were turned down to refused, by reason. An
// answer later than that counts as not refused.
func countRefusals(sent []attempt, deadline time.Time, refused map[string]int64) {
	for _, a := range sent {
		a.settle(time.Until(deadline))
		if r := a.refusal(); r != "" {
			refused[r]++
		}
	}
}

// pidWatch counts the distinct pids a pid file names over time.
type pidWatch struct {
	wg   sync.WaitGroup
	done chan struct{}
	seen map[int]bool
}

// start polls path every millisecond until the returned stop, which
// returns the number of distinct pids seen.
func (p *pidWatch) start(path string) (stop func() int) {
	p.done, p.seen = make(chan struct{}), map[int]bool{}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			if pid, ok := proc.ReadPID(path); ok {
				p.seen[pid] = true
			}
			select {
			case <-p.done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() int {
		close(p.done)
		p.wg.Wait()
		return len(p.seen)
	}
}

// pids lists the pids seen; call it after stop.
func (p *pidWatch) pids() []int {
	out := make([]int, 0, len(p.seen))
	for pid := range p.seen {
		out = append(out, pid)
	}
	return out
}
