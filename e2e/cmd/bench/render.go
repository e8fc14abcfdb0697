//go:build linux

package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// markdown renders r: tables of figures under short headings, a section
// each that r holds. What each figure means, and what it is held to, is in
// e2e/cmd/bench/README.md.
func (r report) markdown() string {
	var b strings.Builder
	b.WriteString("# handoff vs cloudflare/tableflip: restarts under load\n\n")
	writeHeader(&b, r.Header)
	ran := r.Header.ran()
	for i, s := range sections {
		if slices.Contains(ran, s.name) {
			fmt.Fprintf(&b, "## %d. %s\n\n", i+1, s.title)
			s.render(&b, r)
		}
	}
	if r.Restarts != nil {
		writeLogs(&b, *r.Restarts) // idle and steady keep no logs
	}
	return b.String()
}

func writeHeader(b *strings.Builder, h header) {
	run := "full"
	if h.Quick {
		run = "quick (-quick)"
	}
	if h.Only != "" {
		run += ", -only " + h.Only
	}
	left := "none"
	if len(h.Leftovers) > 0 {
		left = fmt.Sprint(h.Leftovers)
	}
	t := table{header: []string{"setting", "value"}}
	t.add("date", h.Date.UTC().Format("2006-01-02 15:04 MST"))
	t.add("machine", fmt.Sprintf("%d CPUs (nproc), %s, Linux %s, RLIMIT_NOFILE %d", h.CPUs, h.CPUModel, h.Kernel, h.NoFile))
	t.add("Go", h.GoVersion)
	t.add("1-minute load average, before / after", fmt.Sprintf("%.2f / %.2f", h.LoadBefore, h.LoadAfter))
	t.add("run", run)
	t.add("took", h.Elapsed.Round(time.Second).String())
	ran := h.ran()
	t.add("sections", strings.Join(ran, ", "))
	sized := func(section, setting, value string) {
		if slices.Contains(ran, section) {
			t.add(setting+" ("+section+")", value)
		}
	}
	sized("lost", "upgrades per client mode and server", fmt.Sprint(h.Upgrades))
	t.add("clients", fmt.Sprint(h.Clients))
	sized("throughput", "idle and upgrading windows", h.Window.String())
	sized("upgrade-time", "listener counts, upgrades per count", fmt.Sprintf("%v, %d", h.Listeners, h.UpgradesPerCount))
	sized("old-gone", "upgrades", fmt.Sprint(h.GoneUpgrades))
	t.add("process groups started / processes alive at the end", fmt.Sprintf("%d / %s", h.ProcessGroups, left))
	fmt.Fprintf(b, "%s\n", t.markdown())
}

// section lost

func renderLost(b *strings.Builder, r report) {
	rows := r.Restarts.Lost
	t := table{header: []string{"client mode", "server", "upgrades done / asked", "answered", "lost", "lost per upgrade",
		"error kinds", "refused and re-sent", "old exits not 0", "errors"}}
	for _, m := range rows {
		for _, r := range m.Runs {
			switch {
			case m.Skipped != "":
				t.add(m.Mode, string(r.Server), "skipped: "+m.Skipped)
			case r.Error != "":
				t.add(m.Mode, string(r.Server), errCell(r.Error))
			default:
				t.add(m.Mode, string(r.Server), doneCell(r), fmt.Sprint(r.Answered), fmt.Sprint(r.Lost),
					fmt.Sprintf("%.2f", r.LostPerUpgrade), formatCounts(r.LoadErrors), formatCounts(r.Refused),
					formatCounts(r.BadExits), errorsCell(r))
			}
		}
	}
	fmt.Fprintf(b, "%s\n", t.markdown())
}

func doneCell(r seriesRun) string { return fmt.Sprintf("%d / %d", r.Done, r.Asked) }

// errorsCell lists why upgrades or drains did not complete.
func errorsCell(r seriesRun) string {
	parts := append([]string{}, r.Failures...)
	if r.Stopped != "" {
		parts = append(parts, r.Stopped)
	}
	if len(parts) == 0 {
		return "none"
	}
	return clip(strings.Join(parts, "; "))
}

func errCell(s string) string { return "error: " + clip(s) }

// clip keeps a long error from swamping its table.
func clip(s string) string {
	if len(s) > 160 {
		return s[:160] + "…"
	}
	return s
}

// section throughput

func renderThroughput(b *strings.Builder, r report) {
	h, f := r.Restarts.Throughput[0], r.Restarts.Throughput[1]
	fmt.Fprintf(b, "A trigger every %v in the upgrading slices.\n\n", h.UpgradeEvery)
	t := table{header: []string{"figure", "handoff", "tableflip"}}
	if h.Error != "" || f.Error != "" {
		t.add("error", errOr(h.Error), errOr(f.Error))
	}
	row := func(name string, cell func(throughputRun) string) {
		t.add(name, unlessErr(h.Error, func() string { return cell(h) }), unlessErr(f.Error, func() string { return cell(f) }))
	}
	row("requests/s, idle", func(r throughputRun) string { return fmt.Sprintf("%.0f", r.IdleRate) })
	row("requests/s, upgrading", func(r throughputRun) string { return fmt.Sprintf("%.0f", r.BusyRate) })
	row("requests/s, upgrading ÷ idle", func(r throughputRun) string { return times(r.RateRatio) })
	row(fmt.Sprintf("the same per %v slice pair, min / median / max", h.Slice), func(r throughputRun) string {
		return fmt.Sprintf("%.2f / %.2f / %.2f", r.PairRatios.Min, r.PairRatios.Median, r.PairRatios.Max)
	})
	row("p99, idle", func(r throughputRun) string { return ms(r.IdleP99) })
	row("p99, upgrading", func(r throughputRun) string { return ms(r.BusyP99) })
	row("p99, upgrading ÷ idle", func(r throughputRun) string { return times(r.P99Ratio) })
	row("lost, idle / upgrading", func(r throughputRun) string { return fmt.Sprintf("%d / %d", r.IdleLost, r.BusyLost) })
	row("server CPU, all generations", func(r throughputRun) string { return ms(r.CPU) })
	row("server CPU per 1,000 answered requests", func(r throughputRun) string { return ms(r.CPUPer1000) })
	row("upgrades done / triggers sent", func(r throughputRun) string { return fmt.Sprintf("%d / %d", r.Done, r.Sent) })
	row("triggers refused", func(r throughputRun) string { return formatCounts(r.Refused) })
	fmt.Fprintf(b, "%s\n", t.markdown())
}

// unlessErr is cell's figure, or "–" for a run that did not happen.
func unlessErr(err string, cell func() string) string {
	if err != "" {
		return "–"
	}
	return cell()
}

func errOr(s string) string {
	if s == "" {
		return "none"
	}
	return errCell(s)
}

// times formats a ratio as "0.97x", or "n/a" for none.
func times(v float64) string {
	if v == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", v)
}

// section upgrade-time

func renderTimes(b *strings.Builder, r report) {
	rows := r.Restarts.Times
	t := table{header: []string{"listeners", "server", "upgrades done / asked", "trigger → new pid, median (min, max)",
		"handoff ÷ tableflip", "CPU per generation, median", "refused and re-sent", "errors"}}
	steps := table{header: []string{"listeners", "server", "trigger → started", "trigger → handed over",
		"trigger → ready", "ready → hang-up", "ready → old gone"}}
	for _, at := range rows {
		for i, r := range at.Runs {
			n := fmt.Sprint(at.Listeners)
			if r.Error != "" {
				t.add(n, string(r.Server), errCell(r.Error))
				continue
			}
			ratio := ""
			if i == 0 {
				ratio = times(at.Ratio)
			}
			t.add(n, string(r.Server), doneCell(r), spread(r.ToNewPID), ratio, medianCell(r.CPU),
				formatCounts(r.Refused), errorsCell(r))
			p := r.Phases
			steps.add(n, string(r.Server), medianCell(p.Started), medianCell(p.HandedOver), medianCell(p.Ready),
				medianCell(p.Hangup), medianCell(p.Gone))
		}
	}
	fmt.Fprintf(b, "%s\nSteps of the same upgrades as each server reports them (medians):\n\n%s\n", t.markdown(), steps.markdown())
}

// spread is "median (min, max)" of d, or "–" when it has no values.
func spread(d dist) string {
	if d.N == 0 {
		return "–"
	}
	return fmt.Sprintf("%s (%s, %s)", ms(d.Median), ms(d.Min), ms(d.Max))
}

// medianCell is d's median, or "–" when the server reported no such step.
func medianCell(d dist) string {
	if d.N == 0 {
		return "–"
	}
	return ms(d.Median)
}

// section old-gone

func renderGone(b *strings.Builder, r report) {
	t := table{header: []string{"figure", "handoff", "tableflip"}}
	h, f := r.Restarts.Gone[0], r.Restarts.Gone[1]
	if h.Error != "" || f.Error != "" {
		t.add("error", errOr(h.Error), errOr(f.Error))
	}
	row := func(name string, cell func(seriesRun) string) {
		t.add(name, unlessErr(h.Error, func() string { return cell(h) }), unlessErr(f.Error, func() string { return cell(f) }))
	}
	row("new pid → old gone, median", func(r seriesRun) string { return medianCell(r.ToOldGone) })
	row("new pid → old gone, p90", func(r seriesRun) string { return p90Cell(r.ToOldGone) })
	row("new pid → old gone, max", func(r seriesRun) string { return maxCell(r.ToOldGone) })
	row("ready → old gone, median", func(r seriesRun) string { return medianCell(r.Phases.Gone) })
	row("ready → hang-up, median", func(r seriesRun) string { return medianCell(r.Phases.Hangup) })
	row("old gone / upgrades asked", func(r seriesRun) string { return fmt.Sprintf("%d / %d", r.ToOldGone.N, r.Asked) })
	row("lost meanwhile", func(r seriesRun) string { return fmt.Sprint(r.Lost) })
	row("lost per upgrade", func(r seriesRun) string { return fmt.Sprintf("%.2f", r.LostPerUpgrade) })
	row("error kinds", func(r seriesRun) string { return formatCounts(r.LoadErrors) })
	row("errors", errorsCell)
	fmt.Fprintf(b, "%s\n", t.markdown())
}

func p90Cell(d dist) string {
	if d.N == 0 {
		return "–"
	}
	return ms(d.P90)
}

func maxCell(d dist) string {
	if d.N == 0 {
		return "–"
	}
	return ms(d.Max)
}

// section idle

func renderIdle(b *strings.Builder, r report) {
	cases := r.Idle.Cases
	t := table{header: []string{"case", "server", "upgrades", "answered", "lost", "redials per upgrade (share of clients)",
		"trigger → old gone, median (min, max)", "refused and re-sent"}}
	for _, cr := range cases {
		c := cr.Case
		check := "no check"
		if c.Check {
			check = "check before reuse"
		}
		name := fmt.Sprintf("%s: %d conns, %v apart, %s", c.Name, c.Conns, c.Pause, check)
		for _, r := range cr.Runs {
			if r.Err != "" {
				t.add(name, string(r.Server), errCell(r.Err))
				continue
			}
			t.add(name, string(r.Server), fmt.Sprintf("%d of %d", r.Done, c.Upgrades), fmt.Sprint(r.Clients.OK),
				fmt.Sprintf("%d (%s)", r.Clients.Lost, formatCounts(r.Clients.Errors)),
				fmt.Sprintf("%.1f%% (%d)", 100*r.RedialsPerUpgrade, r.Clients.Redials), spread(r.Gone), formatCounts(r.Refused))
		}
	}
	fmt.Fprintf(b, "%s\n", t.markdown())
}

// section steady

func renderSteady(b *strings.Builder, r report) {
	s := r.Idle.Steady
	if s.Err != "" {
		fmt.Fprintf(b, "%s\n\n", errCell(s.Err))
	}
	fmt.Fprintf(b, "wrk -t2 -c%d, %v per round.\n\n", s.Conns, s.Window)
	t := table{header: []string{"server", "requests/s, median", "÷ plain http.Server", "each round", "wrk errors"}}
	for _, sv := range s.Servers {
		rounds := make([]string, len(sv.Rounds))
		for i, v := range sv.Rounds {
			rounds[i] = fmt.Sprintf("%.0f", v)
		}
		t.add(string(sv.Server), fmt.Sprintf("%.0f", sv.Median), fmt.Sprintf("%.3fx", sv.OverPlain),
			strings.Join(rounds, ", "), fmt.Sprint(sv.Errors))
	}
	fmt.Fprintf(b, "%s\n", t.markdown())
}

// server logs

func writeLogs(b *strings.Builder, f restartFigures) {
	t := table{header: []string{"run", "server", "WARN and ERROR records (count× level msg: err)"}}
	add := func(run string, k kind, s logSummary) {
		if len(s) > 0 {
			t.add(run, string(k), s.String())
		}
	}
	for _, m := range f.Lost {
		for _, sr := range m.Runs {
			add("lost, "+m.Mode, sr.Server, sr.Logs)
		}
	}
	for _, tr := range f.Throughput {
		add("throughput", tr.Server, tr.Logs)
	}
	for _, at := range f.Times {
		for _, sr := range at.Runs {
			add(fmt.Sprintf("upgrade-time, %d listeners", at.Listeners), sr.Server, sr.Logs)
		}
	}
	for _, sr := range f.Gone {
		add("old-gone", sr.Server, sr.Logs)
	}
	b.WriteString("## Server logs (the upgrade sections)\n\n")
	if len(t.rows) == 0 {
		b.WriteString("No server logged a WARN or ERROR record.\n")
		return
	}
	fmt.Fprintf(b, "%s", t.markdown())
}
