//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/load"
)

// report is every figure of one run, as written to its JSON file. The
// Markdown is rendered from that file alone; e2e/cmd/bench/README.md says
// what each figure means. Durations are nanoseconds (fields ending _ns).
type report struct {
	Header   header          `json:"header"`
	Restarts *restartFigures `json:"restarts,omitempty"` // lost, throughput, upgrade-time, old-gone; absent when none ran
	Idle     idleFigures     `json:"idle"`               // idle, steady
	HTTP3    *http3Result    `json:"http3,omitempty"`    // http3; absent when it did not run
	BadBuild *badBuildResult `json:"badbuild,omitempty"` // badbuild; absent when it did not run
}

// header says where and how the figures were taken.
type header struct {
	Date             time.Time     `json:"date"`
	CPUs             int           `json:"cpus"`
	CPUModel         string        `json:"cpu_model"`
	Kernel           string        `json:"kernel"`
	GoVersion        string        `json:"go_version"`
	NoFile           uint64        `json:"rlimit_nofile"`
	LoadBefore       float64       `json:"load_average_before"`
	LoadAfter        float64       `json:"load_average_after"`
	Quick            bool          `json:"quick"`
	Only             string        `json:"only,omitempty"`
	Sections         []string      `json:"sections,omitempty"` // the sections run, in order
	Upgrades         int           `json:"upgrades_per_mode"`
	Clients          int           `json:"clients"`
	Window           time.Duration `json:"window_ns"`
	Listeners        []int         `json:"listener_counts"`
	UpgradesPerCount int           `json:"upgrades_per_listener_count"`
	GoneUpgrades     int           `json:"gone_upgrades"`
	Elapsed          time.Duration `json:"elapsed_ns"`
	ProcessGroups    int           `json:"process_groups"`
	Leftovers        []int         `json:"leftover_pids"`
}

// restartFigures are the sections that upgrade under load or time
// upgrades. Each Runs pair is handoff, tableflip.
type restartFigures struct {
	Lost       []lostMode       `json:"lost_per_upgrade"`
	Throughput [2]throughputRun `json:"throughput"`
	Times      []timesAt        `json:"upgrade_time"`
	Gone       [2]seriesRun     `json:"old_gone"`
}

// lostMode is section lost for one client mode.
type lostMode struct {
	Mode    string       `json:"mode"`
	Skipped string       `json:"skipped,omitempty"`
	Runs    [2]seriesRun `json:"runs"`
}

// timesAt is section upgrade-time at one listener count.
type timesAt struct {
	Listeners int          `json:"listeners"`
	Ratio     float64      `json:"handoff_over_tableflip"` // of the medians trigger → new pid; 0: not measured
	Runs      [2]seriesRun `json:"runs"`
}

// seriesRun is one server's upgrades one after another (sections lost,
// upgrade-time and old-gone): the upgrades, the load they ran under, and
// how long each step took.
type seriesRun struct {
	Server   kind             `json:"server"`
	Error    string           `json:"error,omitempty"`
	Asked    int              `json:"upgrades_asked"`
	Done     int              `json:"upgrades_done"`
	Failures []string         `json:"failures,omitempty"`
	Stopped  string           `json:"stopped,omitempty"`
	Refused  map[string]int64 `json:"refused,omitempty"`
	BadExits map[string]int64 `json:"old_exits_not_0,omitempty"`

	Answered       int64            `json:"answered"`
	Lost           int64            `json:"lost"`
	LostPerUpgrade float64          `json:"lost_per_upgrade"`
	LoadErrors     map[string]int64 `json:"load_errors,omitempty"`
	LoadElapsed    time.Duration    `json:"load_elapsed_ns"`

	ToNewPID  dist         `json:"trigger_to_new_pid"`
	ToOldGone dist         `json:"new_pid_to_old_gone"`
	Phases    phaseFigures `json:"phases"`
	CPU       dist         `json:"cpu_per_generation"`
	Logs      logSummary   `json:"log_warnings,omitempty"`
}

// phaseFigures are the steps each server reported, over a series.
type phaseFigures struct {
	Started    dist `json:"trigger_to_started"`
	HandedOver dist `json:"trigger_to_handed_over"`
	Ready      dist `json:"trigger_to_ready"`
	Hangup     dist `json:"ready_to_hangup"`
	Gone       dist `json:"ready_to_old_gone"`
}

// throughputRun is section throughput for one server.
type throughputRun struct {
	Server       kind             `json:"server"`
	Error        string           `json:"error,omitempty"`
	IdleRate     float64          `json:"requests_per_second_idle"`
	BusyRate     float64          `json:"requests_per_second_upgrading"`
	RateRatio    float64          `json:"rate_upgrading_over_idle"`
	PairRatios   floatDist        `json:"rate_ratio_per_slice_pair"`
	IdleP99      time.Duration    `json:"p99_idle_ns"`
	BusyP99      time.Duration    `json:"p99_upgrading_ns"`
	P99Ratio     float64          `json:"p99_upgrading_over_idle"`
	IdleLost     int64            `json:"lost_idle"`
	BusyLost     int64            `json:"lost_upgrading"`
	CPU          time.Duration    `json:"cpu_all_generations_ns"`
	CPUPer1000   time.Duration    `json:"cpu_per_1000_answered_ns"`
	Answered     int64            `json:"answered"`
	Sent         int              `json:"triggers_sent"`
	Done         int              `json:"upgrades_done"`
	Refused      map[string]int64 `json:"refused,omitempty"`
	UpgradeEvery time.Duration    `json:"upgrade_every_ns"`
	Slice        time.Duration    `json:"slice_ns"`
	SliceGap     time.Duration    `json:"slice_gap_ns"`
	Logs         logSummary       `json:"log_warnings,omitempty"`
}

// frac is a/b, or 0 where b is not positive: JSON has no NaN.
func frac(a, b float64) float64 {
	if b <= 0 || math.IsNaN(a) || math.IsInf(a, 0) {
		return 0
	}
	return a / b
}

// newHeader is the header of a run with options o on this machine, as
// it starts.
func newHeader(o options, sections []string) header {
	h := machineHeader()
	h.LoadBefore, h.Quick, h.Only, h.Sections = loadAverage(), o.quick, o.only, sections
	h.Upgrades, h.Clients, h.Window, h.Listeners = o.upgrades, o.clients, o.window, o.listeners
	h.UpgradesPerCount, h.GoneUpgrades, h.Leftovers = o.timeK, o.goneN, []int{}
	return h
}

// ran lists the sections r holds. A file written before the header named
// them holds every section, or with -only idle the last two.
func (h header) ran() []string {
	switch {
	case h.Sections != nil:
		return h.Sections
	case h.Only == "idle":
		return []string{"idle", "steady"}
	}
	return sectionNames()
}

// restarts is where the upgrade sections put their figures.
func (r *report) restarts() *restartFigures {
	if r.Restarts == nil {
		r.Restarts = &restartFigures{}
	}
	return r.Restarts
}

// figures of a series alone, without load.
func (s series) figures(k kind) seriesRun {
	return seriesRun{Server: k, Asked: s.asked, Done: s.done, Failures: s.failures, Stopped: s.stopped,
		Refused: s.refused, ToNewPID: summarize(s.ready), ToOldGone: summarize(s.gone), Phases: s.phases.figures()}
}

func (o outcome) figures(k kind) seriesRun {
	if o.err != nil {
		return seriesRun{Server: k, Error: o.err.Error(), Logs: o.logs}
	}
	f := o.series.figures(k)
	f.BadExits, f.Logs = o.badExits, o.logs
	f.Answered, f.Lost, f.LoadErrors, f.LoadElapsed = o.load.ok, o.load.lost, o.load.errors, o.load.elapsed
	f.LostPerUpgrade = frac(float64(o.load.lost), float64(o.series.done))
	return f
}

func (t timing) figures(k kind) seriesRun {
	if t.err != nil {
		return seriesRun{Server: k, Error: t.err.Error(), Logs: t.logs}
	}
	f := t.series.figures(k)
	f.CPU, f.Logs = summarize(t.cpu), t.logs
	return f
}

func (p phaseSamples) figures() phaseFigures {
	return phaseFigures{Started: summarize(p.started), HandedOver: summarize(p.handedOver),
		Ready: summarize(p.ready), Hangup: summarize(p.hangup), Gone: summarize(p.gone)}
}

func (t throughput) figures(k kind) throughputRun {
	f := throughputRun{Server: k, Logs: t.logs, UpgradeEvery: upgradeEvery, Slice: slice, SliceGap: sliceGap}
	if t.err != nil {
		f.Error = t.err.Error()
		return f
	}
	f.IdleRate, f.BusyRate = rate(t.idle), rate(t.busy)
	f.RateRatio = frac(f.BusyRate, f.IdleRate)
	f.PairRatios = summarizeFloats(t.pairRatios)
	f.IdleP99, f.BusyP99 = percentile(t.idle.latencies, 99), percentile(t.busy.latencies, 99)
	f.P99Ratio = frac(float64(f.BusyP99), float64(f.IdleP99))
	f.IdleLost, f.BusyLost = t.idle.lost, t.busy.lost
	f.CPU, f.Answered, f.Sent, f.Done, f.Refused = t.cpu, t.answered, t.sent, t.done, t.refused
	if t.answered > 0 {
		f.CPUPer1000 = t.cpu * 1000 / time.Duration(t.answered)
	}
	return f
}

// modes are section lost's client modes, in report order.
var modes = []load.Mode{load.KeepAlive, load.NewConn, load.Mixed, wrkMode}

// defaultJSONPath names a run's JSON file by when it started, in UTC.
func defaultJSONPath(start time.Time) string {
	return "bench-" + start.UTC().Format("20060102-150405") + ".json"
}

// writeReport writes r to path as indented JSON.
func writeReport(path string, r report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode figures: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write figures: %w", err)
	}
	return nil
}

// readReport decodes a JSON file writeReport wrote.
func readReport(path string) (report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return report{}, fmt.Errorf("read figures: %w", err)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		return report{}, fmt.Errorf("decode figures %s: %w", path, err)
	}
	return r, nil
}
