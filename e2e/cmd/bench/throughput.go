//go:build linux

package main

import (
	"slices"
	"sync"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/harness"
	"github.com/handoff-go/handoff/e2e/internal/load"
	"github.com/handoff-go/handoff/e2e/internal/proc"
)

// upgradeEvery is how often the busy windows trigger an upgrade.
const upgradeEvery = 250 * time.Millisecond

// slice is how a window is cut: idle and busy slices alternate, so that
// whatever else loads the machine weighs on both alike; each round is one
// pair of slices per server.
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

// runThroughput is section throughput.
func runThroughput(b *bench, o options, rep *report) {
	t := b.measureThroughput(o.clients, o.window)
	for i, k := range pair {
		rep.restarts().Throughput[i] = t[i].figures(k)
		progress("throughput %s: idle %.0f req/s, upgrading %.0f req/s, %d of %d upgrades", k,
			rate(t[i].idle), rate(t[i].busy), t[i].done, t[i].sent)
	}
}

// measureThroughput starts both servers fresh side by side and warms
// them up, then measures them in rounds of one idle and one busy slice
// each, until each kind of slice adds up to w.
func (b *bench) measureThroughput(clients int, w time.Duration) (t [2]throughput) {
	if b.outOfTime() {
		return [2]throughput{{err: errOutOfTime}, {err: errOutOfTime}}
	}
	var up [2]*throughputServer
	defer func() {
		for i, u := range up {
			if u != nil {
				u.finish(b, &t[i])
			}
		}
	}()
	for i, k := range pair {
		up[i], t[i].err = b.startThroughput(k, clients, w)
		t[i].refused = map[string]int64{}
	}
	for r := range max(int(w/slice), 1) {
		for _, i := range order(r, len(pair)) {
			if up[i] != nil {
				t[i].runSlicePair(b, up[i].s, clients)
			}
		}
	}
	for i := range t {
		slices.Sort(t[i].idle.latencies)
		slices.Sort(t[i].busy.latencies)
		t[i].answered += t[i].idle.ok + t[i].busy.ok
	}
	return t
}

// throughputServer is one server of section throughput and the watch
// on its pid file that counts its generations.
type throughputServer struct {
	s      *server
	watch  pidWatch
	stop   func() int
	warmed int64 // answered while warming up
}

// startThroughput starts k and warms it up with keep-alive load.
func (b *bench) startThroughput(k kind, clients int, w time.Duration) (*throughputServer, error) {
	s, err := b.startServer(k, "throughput", 1)
	if err != nil {
		return nil, err
	}
	u := &throughputServer{s: s}
	u.stop = u.watch.start(s.pidFile)
	warm, err := b.startDriver(load.KeepAlive, s.addr, clients, harness.Earliest(w, b.end))
	if err != nil {
		var discard throughput
		u.finish(b, &discard)
		return nil, err
	}
	time.Sleep(500 * time.Millisecond)
	warmed, _ := warm.finish()
	u.warmed = warmed.ok
	return u, nil
}

// finish stops u's server and adds what it cost to t.
func (u *throughputServer) finish(b *bench, t *throughput) {
	t.done = u.stop() - 1
	t.logs = summarizeLog(b.stopServer(u.s))
	t.answered += u.warmed
	pids := u.watch.pids()
	b.awaitReaped(pids)
	for _, c := range b.reaper.CPUOf(pids) {
		t.cpu += c
	}
}

// runSlicePair measures one idle and one busy slice on s.
func (t *throughput) runSlicePair(b *bench, s *server, clients int) {
	var sent []attempt
	idle := keepAliveWindow(s.addr, clients, slice, func(time.Duration) {})
	busy := keepAliveWindow(s.addr, clients, slice, func(d time.Duration) { sent = b.triggerEvery(s, d) })
	t.idle.add(idle)
	t.busy.add(busy)
	t.pairRatios = append(t.pairRatios, rate(busy)/rate(idle))
	t.sent += len(sent)
	gap := time.Now().Add(sliceGap)
	countRefusals(sent, gap, t.refused)
	time.Sleep(time.Until(gap))
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
func (b *bench) triggerEvery(s *server, w time.Duration) []attempt {
	var sent []attempt
	start := time.Now()
	for i := 0; time.Duration(i)*upgradeEvery < w; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * upgradeEvery)))
		if pid, ok := proc.ReadPID(s.pidFile); ok {
			if a, err := b.trigger(s, pid); err == nil {
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

// rate is requests answered per second.
func rate(r loadResult) float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}
