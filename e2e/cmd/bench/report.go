//go:build linux

package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// markdown renders the whole report.
func (r *results) markdown() string {
	var b strings.Builder
	r.writeHeader(&b)
	if r.opts.only == "idle" {
		b.WriteString(r.idle.markdown())
		return b.String()
	}
	r.writeLost(&b)
	r.writeThroughput(&b)
	r.writeUpgradeTime(&b)
	r.writeGone(&b)
	b.WriteString(r.idle.markdown())
	r.writeNotes(&b)
	return b.String()
}

func (r *results) writeHeader(b *strings.Builder) {
	m, o := r.machine, r.opts
	fmt.Fprintf(b, "# handoff vs cloudflare/tableflip: restarts under load\n\n")
	fmt.Fprintf(b, "- machine: %d CPUs (nproc), %s, Linux %s, RLIMIT_NOFILE %d\n", m.cpus, m.cpuModel, m.kernel, m.nofile)
	fmt.Fprintf(b, "- Go %s; date %s; 1-minute load average %s before, %s after\n",
		m.goVersion, m.date.Format("2006-01-02 15:04 MST"), r.loadAvg[0], r.loadAvg[1])
	mode := "full run"
	if o.quick {
		mode = "quick run (-quick)"
	}
	fmt.Fprintf(b, "- %s: %d upgrades per client mode and server, %d clients, %v windows, listeners %v, "+
		"%d upgrades per listener count, %d upgrades for section 4; took %v\n",
		mode, o.upgrades, o.clients, o.window, o.listeners, o.timeK, o.goneN, r.elapsed.Round(time.Second))
	fmt.Fprintf(b, "- servers: `examples/demo` (handoff) and `e2e/cmd/tfdemo` (tableflip v1.2.3, Shutdown after Exit, "+
		"as in its example); run alternately, handoff first, on 127.0.0.1\n\n")
}

// section 1

func (r *results) writeLost(b *strings.Builder) {
	o := r.opts
	fmt.Fprintf(b, "## 1. Requests lost per upgrade\n\n")
	fmt.Fprintf(b, "Each server started fresh per mode; %d upgrades one after another under load "+
		"(SIGHUP, new pid in the pid file, old pid exited, next SIGHUP); %d non-retrying clients; "+
		"wrk: `wrk -t2 -c%d -d<budget>s`, stopped with SIGINT (it prints its summary) after the last upgrade.\n\n", o.upgrades, o.clients, o.clients)
	main := table{header: []string{"client mode", "handoff", "tableflip", "verdict"}}
	detail := table{header: []string{"client mode", "handoff", "tableflip", "upgrades done (handoff / tableflip)"}}
	for _, mode := range modes {
		pair, ok := r.lost[mode]
		if !ok {
			main.add(string(mode), "skipped: wrk not installed (apt-get install -y wrk)", "skipped", "n/a")
			continue
		}
		main.add(string(mode), lostCell(pair[0]), lostCell(pair[1]), lostVerdict(pair))
		detail.add(string(mode), breakdownCell(pair[0]), breakdownCell(pair[1]),
			fmt.Sprintf("%s / %s", doneOf(pair[0]), doneOf(pair[1])))
	}
	fmt.Fprintf(b, "%s\nError kinds, failed upgrades and old generations that did not exit 0:\n\n%s\n", main.markdown(), detail.markdown())
}

func lostCell(o outcome) string {
	if o.err != nil {
		return failed(o.err)
	}
	return fmt.Sprintf("%.2f per upgrade (%d lost in %d upgrades; %d answered in %.1f s)",
		o.lostPerUpgrade(), o.load.lost, o.series.done, o.load.ok, o.load.elapsed.Seconds())
}

func lostVerdict(p [2]outcome) string {
	if p[0].err != nil || p[1].err != nil || p[0].series.done == 0 || p[1].series.done == 0 {
		return "n/a"
	}
	h, t := p[0].lostPerUpgrade(), p[1].lostPerUpgrade()
	switch {
	case h == 0 && t == 0:
		return "both lost none"
	case h < t:
		return "handoff lost fewer"
	case h > t:
		return "tableflip lost fewer"
	}
	return "equal"
}

func breakdownCell(o outcome) string {
	if o.err != nil {
		return failed(o.err)
	}
	parts := []string{"errors: " + formatCounts(o.load.errors)}
	parts = append(parts, fmt.Sprintf("failed upgrades: %d", len(o.series.failures)))
	for _, f := range o.series.failures {
		parts = append(parts, "failed ("+f+")")
	}
	if o.series.stopped != "" {
		parts = append(parts, o.series.stopped)
	}
	parts = append(parts, "SIGHUPs refused and re-sent: "+formatCounts(o.series.refused))
	parts = append(parts, "old exits not 0: "+formatCounts(o.badExits))
	return strings.Join(parts, "; ")
}

func doneOf(o outcome) string {
	if o.err != nil {
		return "failed"
	}
	return fmt.Sprintf("%d/%d", o.series.done, o.series.asked)
}

// failed renders a run that could not happen.
func failed(err error) string {
	s := err.Error()
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return "failed (" + s + ")"
}

// section 2

func (r *results) writeThroughput(b *strings.Builder) {
	w := r.opts.window
	fmt.Fprintf(b, "## 2. Throughput and p99 while upgrading every %v\n\n", upgradeEvery)
	fmt.Fprintf(b, "%d keep-alive clients on one server; an idle window of %v and an upgrading window of %v "+
		"(a SIGHUP every %v to the pid in the pid file), cut into %v slices that alternate idle, upgrading, "+
		"%v pause, so that other load on the machine weighs on both alike.\n\n",
		r.opts.clients, w, w, upgradeEvery, slice, sliceGap)
	t := table{header: []string{"measure", "handoff", "tableflip", "handoff target"}}
	h, f := r.through[0], r.through[1]
	if h.err != nil || f.err != nil {
		t.add("run", throughErr(h), throughErr(f), "n/a")
	}
	tr := [2]string{ratio(rate(h.busy), rate(h.idle)), ratio(rate(f.busy), rate(f.idle))}
	pr := [2]string{ratio(p99(h.busy), p99(h.idle)), ratio(p99(f.busy), p99(f.idle))}
	t.add("requests/s, idle", reqs(h.idle), reqs(f.idle), "")
	t.add("requests/s, upgrading", reqs(h.busy), reqs(f.busy), "")
	t.add("throughput ratio (upgrading ÷ idle)", tr[0], tr[1], throughputGoal.judge(rate(h.busy)/rate(h.idle), h.err == nil))
	t.add(fmt.Sprintf("throughput ratio per %v slice pair (min / median / max)", slice), spread(h), spread(f), "")
	t.add("p99, idle", ms(time.Duration(p99(h.idle))), ms(time.Duration(p99(f.idle))), "")
	t.add("p99, upgrading", ms(time.Duration(p99(h.busy))), ms(time.Duration(p99(f.busy))), "")
	t.add("p99 ratio (upgrading ÷ idle)", pr[0], pr[1], p99Goal.judge(p99(h.busy)/p99(h.idle), h.err == nil))
	t.add("lost requests, idle / upgrading", lostPair(h), lostPair(f), "")
	t.add("server CPU time, all generations, whole run", cpuTotal(h), cpuTotal(f), "")
	t.add("server CPU per 1,000 answered requests, whole run", cpuPerK(h), cpuPerK(f), "")
	t.add("upgrades done / SIGHUPs sent", fmt.Sprintf("%d / %d", h.done, h.sent), fmt.Sprintf("%d / %d", f.done, f.sent), "")
	fmt.Fprintf(b, "%s\n", t.markdown())
}

// spread is the least, median and largest slice-pair ratio: how much
// the machine's other load moved the numbers.
func spread(t throughput) string {
	if len(t.pairRatios) == 0 {
		return "n/a"
	}
	r := slices.Sorted(slices.Values(t.pairRatios))
	mid := r[len(r)/2]
	if len(r)%2 == 0 {
		mid = (r[len(r)/2-1] + mid) / 2
	}
	return fmt.Sprintf("%.2f / %.2f / %.2f", r[0], mid, r[len(r)-1])
}

func throughErr(t throughput) string {
	if t.err != nil {
		return failed(t.err)
	}
	return "ok"
}

func cpuTotal(t throughput) string { return ms(t.cpu) }

func cpuPerK(t throughput) string {
	if t.answered == 0 {
		return "n/a"
	}
	return ms(t.cpu * 1000 / time.Duration(t.answered))
}

func reqs(r loadResult) string { return fmt.Sprintf("%.0f", rate(r)) }

// p99 of a window's answered requests, as a float for ratios.
func p99(r loadResult) float64 { return float64(percentile(r.latencies, 99)) }

func lostPair(t throughput) string { return fmt.Sprintf("%d / %d", t.idle.lost, t.busy.lost) }

// The targets handoff's ratios are held to in section 2.
var (
	throughputGoal = goal{limit: 0.95, atLeast: true}
	p99Goal        = goal{limit: 1.3}
)

// section 3

// timeTargets are the handoff ÷ tableflip targets by listener count.
var timeTargets = map[int]goal{1: {limit: 1.0}, 5000: {limit: 0.3}}

func (r *results) writeUpgradeTime(b *strings.Builder) {
	fmt.Fprintf(b, "## 3. Upgrade time by listener count\n\n")
	fmt.Fprintf(b, "SIGHUP sent → new pid in the pid file (polled every %v); median of %d upgrades, no load; "+
		"both servers run side by side and are upgraded in turn, one upgrade each at a time; "+
		"each old process exits before that server's next SIGHUP. CPU per generation: user + system time of each replaced "+
		"process over its whole life (start, take the sockets, hand them on, exit), from wait4.\n\n", pidPoll, r.opts.timeK)
	t := table{header: []string{"listeners", "handoff", "tableflip", "handoff ÷ tableflip", "target",
		"CPU per generation, median (handoff / tableflip)"}}
	for _, n := range append(r.opts.listeners, missingCounts(r.opts.listeners)...) {
		p, ok := r.times[n]
		if !ok {
			t.add(fmt.Sprintf("%d", n), "not measured (-quick)", "not measured (-quick)", "n/a", timeTarget(n, 0, false), "n/a")
			continue
		}
		hm, fm := median(p[0].series.ready), median(p[1].series.ready)
		ok = timingOK(p[0]) && timingOK(p[1])
		rt := "n/a"
		if ok {
			rt = ratio(float64(hm), float64(fm))
		}
		t.add(fmt.Sprintf("%d", n), timingCell(p[0]), timingCell(p[1]), rt, timeTarget(n, float64(hm)/float64(fm), ok),
			cpuCell(p[0])+" / "+cpuCell(p[1]))
	}
	fmt.Fprintf(b, "%s\n", t.markdown())
}

// missingCounts are the target listener counts a quick run leaves out.
func missingCounts(measured []int) []int {
	var out []int
	for _, n := range []int{1, 5000} {
		found := false
		for _, m := range measured {
			found = found || m == n
		}
		if !found {
			out = append(out, n)
		}
	}
	return out
}

func timingOK(t timing) bool { return t.err == nil && len(t.series.ready) > 0 }

func timingCell(t timing) string {
	if t.err != nil {
		return failed(t.err)
	}
	s := t.series
	if len(s.ready) == 0 {
		return fmt.Sprintf("failed (%s)", strings.Join(s.failures, "; "))
	}
	cell := ms(median(s.ready))
	if s.done < s.asked || len(s.failures) > 0 {
		cell += fmt.Sprintf(" (%d of %d upgrades; %d failed: %s)", s.done, s.asked, len(s.failures), strings.Join(s.failures, "; "))
	}
	if len(s.refused) > 0 {
		cell += " (SIGHUPs refused and re-sent: " + formatCounts(s.refused) + ")"
	}
	return cell
}

func cpuCell(t timing) string {
	if len(t.cpu) == 0 {
		return "n/a"
	}
	return ms(median(t.cpu))
}

func timeTarget(n int, got float64, measured bool) string {
	g, ok := timeTargets[n]
	if !ok {
		return "none"
	}
	return g.judge(got, measured)
}

// section 4

func (r *results) writeGone(b *strings.Builder) {
	fmt.Fprintf(b, "## 4. Old process gone after the new one is ready\n\n")
	fmt.Fprintf(b, "%d upgrades one after another under %d keep-alive clients; new pid in the pid file → "+
		"old pid exited (zombie or gone in /proc, polled every %v).\n\n", r.opts.goneN, r.opts.clients, pidPoll)
	h, f := r.gone[0], r.gone[1]
	t := table{header: []string{"measure", "handoff", "tableflip", "verdict"}}
	t.add("median", goneCell(h, 50), goneCell(f, 50),
		"handoff target <= 100 ms: "+goneVerdict(h))
	t.add("p90", goneCell(h, 90), goneCell(f, 90), "")
	t.add("lost requests meanwhile", goneLost(h), goneLost(f), lostVerdict(r.gone))
	t.add("old exited / upgrades asked", goneCount(h), goneCount(f), "")
	fmt.Fprintf(b, "%s\n", t.markdown())
}

func goneCell(o outcome, p float64) string {
	if o.err != nil {
		return failed(o.err)
	}
	if len(o.series.gone) == 0 {
		return "failed (no old process exited)"
	}
	if p == 50 {
		return ms(median(o.series.gone))
	}
	return ms(percentile(o.series.gone, p))
}

func goneVerdict(o outcome) string {
	if o.err != nil || len(o.series.gone) == 0 {
		return "not measured"
	}
	return verdict(median(o.series.gone) <= 100*time.Millisecond)
}

func goneLost(o outcome) string {
	if o.err != nil {
		return failed(o.err)
	}
	return fmt.Sprintf("%d (%.2f per upgrade; %s)", o.load.lost, o.lostPerUpgrade(), formatCounts(o.load.errors))
}

func goneCount(o outcome) string {
	if o.err != nil {
		return "failed"
	}
	s := fmt.Sprintf("%d / %d", len(o.series.gone), o.series.asked)
	if len(o.series.failures) > 0 {
		s += " (" + strings.Join(o.series.failures, "; ") + ")"
	}
	return s
}
