//go:build linux

package main

import (
	"fmt"
	"strings"
	"time"
)

// definitions say what each number means.
var definitions = []string{
	"**Lost**: a request a client sent once and got no 200 answer for (refused, reset, EOF, timeout, other status). " +
		"The in-process clients never retry. For wrk, lost = socket errors (connect + read + write + timeout) + non-2xx/3xx responses. " +
		"Per upgrade = lost ÷ upgrades that produced a new pid.",
	"**Upgrade**: SIGHUP to the pid in the pid file, then the pid file names a new pid. A new pid later than 10 s counts as a failed upgrade; " +
		"an old pid still running 15 s after the new one is ready counts as a failed drain. In sections 1, 3 and 4 both servers get the next " +
		"SIGHUP as soon as the old pid has exited (tableflip refuses an upgrade before that). Both servers catch SIGHUP " +
		"before they write their pid file (tableflip's own example registers it later, in a goroutine, where an early SIGHUP " +
		"kills the process). A SIGHUP that a server logs as refused " +
		"(\"upgrade refused\" / \"upgrade failed\") is sent again 5 ms later, within the same 10 s; the refusals are counted in section 1's second table.",
	"**Throughput**: answered requests ÷ window wall time; **p99**: 99th percentile (nearest rank) latency of answered requests. " +
		"In the upgrading window a SIGHUP goes to the pid in the pid file every 250 ms whether or not the last upgrade finished; " +
		"tableflip refuses it while its previous generation still runs, handoff while an upgrade is in progress or `-max-draining` (3) " +
		"older generations still drain. \"Upgrades done\" counts the new pids the pid file named in the window.",
	"**Upgrade time**: SIGHUP sent → the pid file names the new pid, with no load; listeners beyond the first are idle " +
		"(`-extra-listeners N-1`). **Old gone**: the pid file names the new pid → the old pid is a zombie or gone.",
}

func (r *results) writeNotes(b *strings.Builder) {
	fmt.Fprintf(b, "## Notes\n\n")
	for _, d := range definitions {
		fmt.Fprintf(b, "- %s\n", d)
	}
	for _, n := range r.targetNotes() {
		fmt.Fprintf(b, "- %s\n", n)
	}
	for _, n := range r.logNotes() {
		if strings.HasPrefix(n, subItem) {
			fmt.Fprintf(b, "%s\n", n)
		} else {
			fmt.Fprintf(b, "- %s\n", n)
		}
	}
	fmt.Fprintf(b, "- %s\n", r.cleanupNote())
}

// targetNotes says, from the data alone, what goes with each missed target.
func (r *results) targetNotes() []string {
	var notes []string
	if n := r.throughputNote(); n != "" {
		notes = append(notes, n)
	}
	for _, n := range []int{1, 5000} {
		p, ok := r.times[n]
		if !ok || !timingOK(p[0]) || !timingOK(p[1]) {
			continue
		}
		hs, fs := p[0].series.ready, p[1].series.ready
		if !timeTargets[n].met(float64(median(hs)) / float64(median(fs))) {
			notes = append(notes, fmt.Sprintf("Section 3, target not met at %s: handoff median %s (min %s, max %s) vs tableflip %s (min %s, max %s).",
				listenersText(n), ms(median(hs)), ms(percentile(hs, 0)), ms(percentile(hs, 100)), ms(median(fs)), ms(percentile(fs, 0)), ms(percentile(fs, 100))))
		}
	}
	if n := r.phaseNote(); n != "" {
		notes = append(notes, n)
	}
	if g := r.gone[0]; g.err == nil && len(g.series.gone) > 0 && median(g.series.gone) > 100*time.Millisecond {
		note := fmt.Sprintf("Section 4, handoff target not met: median %s, p90 %s, max %s.",
			ms(median(g.series.gone)), ms(percentile(g.series.gone, 90)), ms(percentile(g.series.gone, 100)))
		if m := median(g.series.gone); m >= 900*time.Millisecond && m <= 1300*time.Millisecond {
			note += " The median sits at the demo's `-idle-grace` (1 s): consistent with connections waiting out the idle grace."
		}
		notes = append(notes, note)
	}
	return notes
}

// throughputNote gives the data that goes with a missed section 2 target.
func (r *results) throughputNote() string {
	h, f := r.through[0], r.through[1]
	if h.err != nil || (throughputGoal.met(rate(h.busy)/rate(h.idle)) && p99Goal.met(p99(h.busy)/p99(h.idle))) {
		return ""
	}
	return fmt.Sprintf("Section 2, handoff target not met: throughput ratio %s (slice pairs %s), p99 ratio %s; "+
		"tableflip in the same schedule: %s (slice pairs %s), p99 ratio %s. %d upgrades in %v, on %d CPUs shared by the %d clients, "+
		"the servers and the machine's other work (load average %s before, %s after). Server CPU per 1,000 answered requests "+
		"over the run: handoff %s, tableflip %s. The data does not separate process start-up from draining cost.",
		ratio(rate(h.busy), rate(h.idle)), spread(h), ratio(p99(h.busy), p99(h.idle)),
		ratio(rate(f.busy), rate(f.idle)), spread(f), ratio(p99(f.busy), p99(f.idle)),
		h.done, r.opts.window, r.machine.cpus, r.opts.clients, r.loadAvg[0], r.loadAvg[1], cpuPerK(h), cpuPerK(f))
}

// phaseNote splits handoff's section 3 upgrade times by its own log.
func (r *results) phaseNote() string {
	var parts []string
	for _, n := range r.opts.listeners {
		p := r.times[n][0].series.phases
		if len(p.started) == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: %s + %s", listenersText(n), ms(median(p.started)), ms(median(p.ready)-median(p.started))))
	}
	if len(parts) == 0 {
		return ""
	}
	return "Section 3, handoff's upgrade time split by its own log (millisecond timestamps, medians) as A + B: " +
		"A from the old process's \"new process started\" to the new process's \"upgrader started\" (exec, runtime start, " +
		"handshake, every fd received), B from there to its \"ready\" (listeners claimed by name, Ready acknowledged). " +
		strings.Join(parts, "; ") + "."
}

// listenersText is "1 listener" or "5000 listeners".
func listenersText(n int) string {
	if n == 1 {
		return "1 listener"
	}
	return fmt.Sprintf("%d listeners", n)
}

// logNotes lists what each server logged at WARN or ERROR, by run.
func (r *results) logNotes() []string {
	var notes []string
	add := func(run string, k kind, s logSummary) {
		if len(s) > 0 {
			notes = append(notes, fmt.Sprintf("%s log, %s: %s", k, run, s))
		}
	}
	for _, mode := range modes {
		if p, ok := r.lost[mode]; ok {
			for i, k := range kinds {
				add("section 1 "+string(mode), k, p[i].logs)
			}
		}
	}
	for i, k := range kinds {
		add("section 2", k, r.through[i].logs)
	}
	for _, n := range r.opts.listeners {
		for i, k := range kinds {
			add(fmt.Sprintf("section 3 at %d listeners", n), k, r.times[n][i].logs)
		}
	}
	for i, k := range kinds {
		add("section 4", k, r.gone[i].logs)
	}
	if len(notes) == 0 {
		return []string{"No server logged a WARN or ERROR line."}
	}
	return append([]string{"Server log lines at WARN or ERROR (count× level msg: err), per run:"}, indent(notes)...)
}

// subItem starts a nested list item.
const subItem = "  - "

func indent(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = subItem + l
	}
	return out
}

// cleanupNote states whether every process the bench started is gone.
func (r *results) cleanupNote() string {
	if len(r.leftovers) > 0 {
		return fmt.Sprintf("**WARNING**: processes %v of the %d process groups the bench started were still alive at the end.",
			r.leftovers, r.groups)
	}
	return fmt.Sprintf("Clean-up checked: no process of the %d process groups the bench started is alive.", r.groups)
}
