//go:build linux

package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/handoff-go/handoff/control"
)

const wrkWithErrors = `Running 30s test @ http://127.0.0.1:8080/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   766.20us    1.28ms  13.86ms   88.43%
    Req/Sec    44.77k     4.30k   61.50k    80.65%
  276244 requests in 3.10s, 39.52MB read
  Socket errors: connect 1, read 16, write 2, timeout 3
  Non-2xx or 3xx responses: 5
Requests/sec:  89120.77
Transfer/sec:     12.75MB
`

const wrkClean = `Running 30s test @ http://127.0.0.1:18123/
  2 threads and 4 connections
  1579 requests in 2.00s, 4.31MB read
Requests/sec:    787.88
Transfer/sec:      2.15MB
`

func TestParseWrk(t *testing.T) {
	tests := []struct {
		name     string
		out      string
		want     wrkResult
		wantLost int64
		wantErr  error
	}{
		{name: "errors", out: wrkWithErrors, wantLost: 27, want: wrkResult{requests: 276244,
			connect: 1, read: 16, write: 2, timeout: 3, non2xx: 5, requestsPerSec: 89120.77}},
		{name: "clean", out: wrkClean, want: wrkResult{requests: 1579, requestsPerSec: 787.88}},
		{name: "killed before the summary", out: "Running 30s test @ http://x/\n", wantErr: errNoWrkSummary},
		{name: "empty", out: "", wantErr: errNoWrkSummary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWrk(tt.out)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("parseWrk error: got %v; want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parseWrk: got %+v; want %+v", got, tt.want)
			}
			if got.lost() != tt.wantLost {
				t.Errorf("lost: got %d; want %d", got.lost(), tt.wantLost)
			}
		})
	}
}

func TestWrkBreakdownSkipsZeros(t *testing.T) {
	got := formatCounts(wrkResult{read: 16, non2xx: 5}.breakdown())
	if want := "read=16, non-2xx/3xx=5"; got != want {
		t.Errorf("breakdown: got %q; want %q", got, want)
	}
}

func durations(ms ...int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Millisecond
	}
	return out
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []time.Duration
		want time.Duration
	}{
		{name: "none", in: nil, want: 0},
		{name: "one", in: durations(7), want: 7 * time.Millisecond},
		{name: "odd, unsorted", in: durations(9, 1, 5), want: 5 * time.Millisecond},
		{name: "even averages the middle two", in: durations(4, 1, 3, 10), want: 3500 * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := median(tt.in); got != tt.want {
				t.Errorf("median(%v): got %v; want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestMedianLeavesInputAlone(t *testing.T) {
	in := durations(3, 1, 2)
	median(in)
	if in[0] != 3*time.Millisecond {
		t.Errorf("median sorted its input: %v", in)
	}
}

func TestPercentile(t *testing.T) {
	ten := durations(10, 9, 8, 7, 6, 5, 4, 3, 2, 1)
	tests := []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{name: "none", in: nil, p: 99, want: 0},
		{name: "p90 of ten is the ninth", in: ten, p: 90, want: 9 * time.Millisecond},
		{name: "p99 of ten is the largest", in: ten, p: 99, want: 10 * time.Millisecond},
		{name: "p50 of ten is the fifth", in: ten, p: 50, want: 5 * time.Millisecond},
		{name: "p0 is the smallest", in: ten, p: 0, want: 1 * time.Millisecond},
		{name: "p100 is the largest", in: ten, p: 100, want: 10 * time.Millisecond},
		{name: "p99 of 200 is the 198th", in: durations(seq(200)...), p: 99, want: 198 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.in, tt.p); got != tt.want {
				t.Errorf("percentile(p%v): got %v; want %v", tt.p, got, tt.want)
			}
		})
	}
}

// seq is 1..n.
func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

func TestTableMarkdown(t *testing.T) {
	tests := []struct {
		name string
		tab  table
		want string
	}{
		{
			name: "plain",
			tab:  table{header: []string{"mode", "handoff", "tableflip"}, rows: [][]string{{"keepalive", "0", "16"}}},
			want: "| mode | handoff | tableflip |\n| --- | --- | --- |\n| keepalive | 0 | 16 |\n",
		},
		{
			name: "pipes and newlines stay in their cell",
			tab:  table{header: []string{"a", "b"}, rows: [][]string{{"x|y", "line1\nline2"}}},
			want: "| a | b |\n| --- | --- |\n| x\\|y | line1 line2 |\n",
		},
		{
			name: "short rows are padded, long rows cut",
			tab:  table{header: []string{"a", "b"}, rows: [][]string{{"1"}, {"1", "2", "3"}}},
			want: "| a | b |\n| --- | --- |\n| 1 |  |\n| 1 | 2 |\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.tab.markdown(); got != tt.want {
				t.Errorf("markdown:\ngot\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestFormatCounts(t *testing.T) {
	tests := []struct {
		in   map[string]int64
		want string
	}{
		{in: nil, want: "none"},
		{in: map[string]int64{"reset": 2, "eof": 9, "timeout": 2}, want: "eof=9, reset=2, timeout=2"},
	}
	for _, tt := range tests {
		if got := formatCounts(tt.in); got != tt.want {
			t.Errorf("formatCounts(%v): got %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestSummarizeLog(t *testing.T) {
	log := `{"time":"x","level":"INFO","msg":"serving","pid":1}
{"time":"x","level":"WARN","msg":"upgrade failed","pid":2,"err":"parent hasn't exited"}
{"time":"x","level":"WARN","msg":"upgrade failed","pid":3,"err":"parent hasn't exited"}
{"time":"x","level":"ERROR","msg":"demo failed","err":"boom"}
panic: oops

goroutine 1 [running]:
`
	got := summarizeLog(log).String()
	want := `2× WARN upgrade failed: parent hasn't exited; 2× lines that are not JSON; 1× ERROR demo failed: boom`
	if got != want {
		t.Errorf("summary: got %q; want %q", got, want)
	}
}

func TestDecodeStamps(t *testing.T) {
	in := `{"event":"upgrading","pid":10,"time":"2026-11-22T02:43:40.128Z"}
{"event":"refused","pid":10,"time":"2026-11-22T02:43:40.129Z","error":"parent hasn't exited"}
{"event":"started","pid":11,"ti`
	got := decodeStamps(strings.NewReader(in))
	if len(got) != 2 {
		t.Fatalf("decodeStamps: got %d stamps %+v; want 2 (the cut line skipped)", len(got), got)
	}
	want := stamp{Event: "refused", PID: 10, Time: time.Date(2026, 11, 22, 2, 43, 40, 129e6, time.UTC), Error: "parent hasn't exited"}
	if !got[1].Time.Equal(want.Time) || got[1].Event != want.Event || got[1].PID != want.PID || got[1].Error != want.Error {
		t.Errorf("second stamp: got %+v; want %+v", got[1], want)
	}
}

func TestPhasesOf(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 2, 43, 40, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	steps := []stamp{
		{Event: "upgrading", PID: 10, Time: at(1)},
		{Event: "started", PID: 9, Time: at(2)}, // an earlier upgrade's child
		{Event: "started", PID: 11, Time: at(3)},
		{Event: "handed-over", PID: 11, Time: at(20)},
		{Event: "ready", PID: 11, Time: at(25)},
		{Event: stepResult, PID: 11, Time: at(26)},
		{Event: stepHangup, Time: at(40)},
	}
	p := phasesOf(t0, 11, steps, at(45))
	for _, c := range []struct {
		name string
		got  time.Duration
		want int
	}{
		{"started", p.started, 3}, {"handed-over", p.handedOver, 20}, {"ready", p.ready, 25},
		{"hangup", p.hangup, 15}, {"gone", p.gone, 20},
	} {
		if !p.ok[c.name] || c.got != time.Duration(c.want)*time.Millisecond {
			t.Errorf("%s: got %v (reported %v); want %d ms", c.name, c.got, p.ok[c.name], c.want)
		}
	}
	tf := phasesOf(t0, 11, []stamp{{Event: "started", PID: 11, Time: at(4)}, {Event: "ready", PID: 11, Time: at(6)}}, time.Time{})
	if tf.ok["handed-over"] || tf.ok["hangup"] || tf.ok["gone"] || !tf.ok["ready"] {
		t.Errorf("steps tableflip does not report: got %v; want only started and ready", tf.ok)
	}
}

func TestDecodeStepRefusal(t *testing.T) {
	tests := []struct {
		name string
		res  control.Result
		want string
	}{
		{name: "accepted", res: control.Result{OK: true, PID: 12}, want: ""},
		{name: "in progress", res: control.Result{Code: control.CodeInProgress, Error: "upgrader: upgrade in progress"}, want: control.CodeInProgress},
		{name: "too many draining", res: control.Result{Code: control.CodeTooManyDraining, Error: "x"}, want: control.CodeTooManyDraining},
		{name: "no code", res: control.Result{Error: "x"}, want: control.CodeFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, reason := resultStep(tt.res, time.Now())
			if st.Event != stepResult {
				t.Fatalf("resultStep: got %+v; want a result step", st)
			}
			if reason != tt.want {
				t.Errorf("refusal reason: got %q; want %q", reason, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	in := durations(seq(200)...)
	in[0], in[199] = in[199], in[0] // unsorted
	got := summarize(in)
	want := dist{N: 200, Min: time.Millisecond, Median: 100500 * time.Microsecond,
		P90: 180 * time.Millisecond, P99: 198 * time.Millisecond, Max: 200 * time.Millisecond}
	if got != want {
		t.Errorf("summarize: got %+v; want %+v", got, want)
	}
	if in[0] != 200*time.Millisecond {
		t.Errorf("summarize sorted its input")
	}
	if got := summarize(nil); got != (dist{}) {
		t.Errorf("summarize(nil): got %+v; want zero", got)
	}
}

func TestSummarizeFloats(t *testing.T) {
	got := summarizeFloats([]float64{1.2, 0.8, math.NaN(), 1.0, 0.9})
	want := floatDist{N: 4, Min: 0.8, Median: 0.95, Max: 1.2}
	if got != want {
		t.Errorf("summarizeFloats: got %+v; want %+v (NaN left out)", got, want)
	}
}

func TestDefaultJSONPath(t *testing.T) {
	at := time.Date(2026, 12, 2, 19, 53, 7, 0, time.FixedZone("CET", 3600))
	if got, want := defaultJSONPath(at), "bench-20261202-185307.json"; got != want {
		t.Errorf("defaultJSONPath: got %q; want %q (UTC)", got, want)
	}
}

// sampleReport is a full report with a figure of its own in each place
// the tests look.
func sampleReport() report {
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	run := func(k kind, lost int64) seriesRun {
		return seriesRun{Server: k, Asked: 10, Done: 10, Answered: 13323, Lost: lost, LostPerUpgrade: float64(lost) / 10,
			LoadErrors: map[string]int64{"eof": lost}, LoadElapsed: ms(400), Refused: map[string]int64{control.CodeInProgress: 2},
			ToNewPID:  dist{N: 10, Min: ms(6.5), Median: ms(7.2), P90: ms(7.3), P99: ms(7.4), Max: ms(7.4)},
			ToOldGone: dist{N: 10, Min: ms(3), Median: ms(4.45), P90: ms(7.59), P99: ms(8), Max: ms(8)},
			Phases: phaseFigures{Started: dist{N: 10, Median: ms(1.1)}, Ready: dist{N: 10, Median: ms(4.58)},
				Gone: dist{N: 10, Median: ms(3.3)}},
			CPU: dist{N: 10, Median: ms(8.91)}, Logs: logSummary{"WARN upgrade failed: parent hasn't exited": 5}}
	}
	return report{
		Header: header{Date: time.Date(2026, 12, 2, 18, 52, 0, 0, time.UTC), CPUs: 2, CPUModel: "AMD EPYC", Kernel: "6.18",
			GoVersion: "go1.26.8", NoFile: 20000, LoadBefore: 1, LoadAfter: 1.47, Quick: true, Upgrades: 10, Clients: 32,
			Window: 2 * time.Second, Listeners: []int{1, 1000}, UpgradesPerCount: 3, GoneUpgrades: 5,
			Elapsed: 40 * time.Second, ProcessGroups: 28, Leftovers: []int{}},
		Restarts: &restartFigures{
			Lost: []lostMode{{Mode: "keepalive", Runs: [2]seriesRun{run(handoff, 0), run(tableflip, 319)}},
				{Mode: "wrk", Skipped: "wrk not installed", Runs: [2]seriesRun{{Server: handoff}, {Server: tableflip}}}},
			Throughput: [2]throughputRun{
				{Server: handoff, IdleRate: 46688, BusyRate: 45579, RateRatio: 0.976, PairRatios: floatDist{N: 4, Min: 0.92, Median: 0.97, Max: 1.04},
					IdleP99: ms(4.61), BusyP99: ms(4.25), P99Ratio: 0.92, CPU: ms(4371), CPUPer1000: ms(20.7), Answered: 211000,
					Sent: 8, Done: 8, UpgradeEvery: 250 * time.Millisecond, Slice: 500 * time.Millisecond, SliceGap: 300 * time.Millisecond},
				{Server: tableflip, Error: "tableflip exited at start"}},
			Times: []timesAt{{Listeners: 1000, Ratio: 1.26, Runs: [2]seriesRun{run(handoff, 0), run(tableflip, 0)}}},
			Gone:  [2]seriesRun{run(handoff, 0), run(tableflip, 159)},
		},
		Idle: idleFigures{
			Cases: []idleCaseRuns{{Case: idleCase{Name: "sparse", Conns: 100, Pause: 300 * time.Millisecond, Upgrades: 5},
				Runs: [2]idleRun{{Server: handoff, Done: 5, Clients: pooledResult{OK: 822}, Gone: dist{N: 5, Median: ms(11.3)}},
					{Server: tableflip, Done: 5, Clients: pooledResult{OK: 523, Lost: 300, Redials: 300, Errors: map[string]int64{"EOF": 300}},
						RedialsPerUpgrade: 0.6, Gone: dist{N: 5, Median: ms(10.3)}}}}},
			Steady: steadyResult{Window: 2 * time.Second, Conns: 32, Servers: []steadyServer{
				{Server: handoff, Rounds: []float64{43746}, Median: 43746, OverPlain: 0.821},
				{Server: plain, Rounds: []float64{53301}, Median: 53301, OverPlain: 1}}},
		},
	}
}

func TestReportRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.json")
	want := sampleReport()
	if err := writeReport(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := readReport(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\ngot  %+v\nwant %+v", got, want)
	}
}

func TestRenderSaved(t *testing.T) {
	dir := t.TempDir()
	path, out := filepath.Join(dir, "run.json"), filepath.Join(dir, "run.md")
	if err := writeReport(path, sampleReport()); err != nil {
		t.Fatal(err)
	}
	if err := renderSaved(path, out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	for _, want := range []string{
		"| keepalive | tableflip | 10 / 10 | 13323 | 319 | 31.90 | eof=319 | in-progress=2 |", // lost
		"skipped: wrk not installed",
		"| requests/s, upgrading ÷ idle | 0.98x | – |", // throughput
		"error: tableflip exited at start",
		"| 1000 | handoff | 10 / 10 | 7.20 ms (6.50 ms, 7.40 ms) | 1.26x | 8.91 ms |", // upgrade-time
		"| 1000 | handoff | 1.10 ms | – | 4.58 ms | – | 3.30 ms |",                    // its steps
		"| new pid → old gone, p90 | 7.59 ms | 7.59 ms |",                             // old-gone
		"| 60.0% (300) | 10.3 ms (0.00 ms, 0.00 ms) |",                                // idle
		"| handoff | 43746 | 0.821x | 43746 | 0 |",                                    // steady
		"5× WARN upgrade failed: parent hasn't exited",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("rendered report lacks %q:\n%s", want, md)
		}
	}
}

// judging holds the words of a verdict; the Markdown states figures only.
var judging = regexp.MustCompile(`(?i)\b(targets?|pass(ed|es)?|fail(s|ed|ure|ures)?|goals?|met|verdict|better|worse)\b|✓|✗`)

func TestMarkdownJudgesNothing(t *testing.T) {
	r := sampleReport()
	r.Header.Leftovers = []int{4242}
	// Server log text and server error strings are data the bench quotes.
	quoted := regexp.MustCompile(`.*(WARN|ERROR) .*`)
	md := quoted.ReplaceAllString(r.markdown(), "")
	if m := judging.FindAllString(md, -1); len(m) > 0 {
		t.Errorf("rendered report judges: %q in\n%s", m, md)
	}
}

// A file from before header.sections says -only idle, which meant the
// idle and steady sections.
func TestOnlyIdleRendersSectionsFiveAndSix(t *testing.T) {
	r := sampleReport()
	r.Restarts, r.Header.Only = nil, "idle"
	md := r.markdown()
	for _, h := range []string{"## 5.", "## 6."} {
		if !strings.Contains(md, h) {
			t.Errorf("-only idle: no %q heading", h)
		}
	}
	for _, h := range []string{"## 1.", "## 2.", "## 3.", "## 4."} {
		if strings.Contains(md, h) {
			t.Errorf("-only idle: got a %q heading; want sections 5 and 6 only", h)
		}
	}
}

func TestOrderAlternatesWhoGoesFirst(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		rounds [][]int
	}{
		{name: "a pair: AB, BA, AB, BA", n: 2, rounds: [][]int{{0, 1}, {1, 0}, {0, 1}, {1, 0}}},
		{name: "three servers rotate", n: 3, rounds: [][]int{{0, 1, 2}, {1, 2, 0}, {2, 0, 1}, {0, 1, 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for r, want := range tt.rounds {
				if got := order(r, tt.n); !slices.Equal(got, want) {
					t.Errorf("order(%d, %d): got %v; want %v", r, tt.n, got, want)
				}
			}
		})
	}
}

func TestInRoundsRunsABThenBA(t *testing.T) {
	var ran []string
	got := inRounds(3, func(r int, k kind) string {
		s := fmt.Sprintf("%s%d", k, r)
		ran = append(ran, s)
		return s
	})
	wantRan := []string{"handoff0", "tableflip0", "tableflip1", "handoff1", "handoff2", "tableflip2"}
	if !slices.Equal(ran, wantRan) {
		t.Errorf("run order: got %v; want %v", ran, wantRan)
	}
	want := [2][]string{{"handoff0", "handoff1", "handoff2"}, {"tableflip0", "tableflip1", "tableflip2"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("results by server: got %v; want %v", got, want)
	}
}

func TestEverySectionHasRoundsBothWays(t *testing.T) {
	// Each server goes first as often as second, over a section's rounds:
	// the two halves of a series, or any even count of rounds.
	for _, n := range []int{2, 5, 10, 100} {
		first := map[kind]int{}
		inRounds(len(halves(n)), func(r int, k kind) int {
			if order(r, 2)[0] == slices.Index(pair[:], k) {
				first[k]++
			}
			return 0
		})
		if first[handoff] != first[tableflip] {
			t.Errorf("%d upgrades: handoff first %d times, tableflip %d; want as often", n, first[handoff], first[tableflip])
		}
	}
}

func TestHalves(t *testing.T) {
	tests := []struct {
		n    int
		want []int
	}{
		{n: 0, want: []int{0}}, {n: 1, want: []int{1}}, {n: 2, want: []int{1, 1}},
		{n: 5, want: []int{3, 2}}, {n: 100, want: []int{50, 50}},
	}
	for _, tt := range tests {
		if got := halves(tt.n); !slices.Equal(got, tt.want) {
			t.Errorf("halves(%d): got %v; want %v", tt.n, got, tt.want)
		}
	}
}

func TestSeriesPlus(t *testing.T) {
	a := series{asked: 3, done: 3, refused: map[string]int64{"in-progress": 1}, ready: durations(1, 2, 3), oldPIDs: []int{10}}
	b := series{asked: 2, done: 1, failures: []string{"x"}, stopped: "time budget spent", refused: map[string]int64{"in-progress": 2}, ready: durations(4)}
	got := series{}.plus(a).plus(b)
	if got.asked != 5 || got.done != 4 || got.refused["in-progress"] != 3 || len(got.ready) != 4 ||
		!slices.Equal(got.failures, []string{"x"}) || got.stopped != "time budget spent" || !slices.Equal(got.oldPIDs, []int{10}) {
		t.Errorf("plus: got %+v", got)
	}
}

func TestChooseSections(t *testing.T) {
	tests := []struct {
		only    string
		want    []string
		wantErr bool
	}{
		{only: "", want: []string{"lost", "throughput", "upgrade-time", "old-gone", "idle", "steady", "http3", "badbuild"}},
		{only: "http3", want: []string{"http3"}},
		{only: "idle,steady", want: []string{"idle", "steady"}},
		{only: "steady, lost,steady", want: []string{"steady", "lost"}},
		{only: "5", wantErr: true},
	}
	for _, tt := range tests {
		got, err := chooseSections(tt.only)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("chooseSections(%q): got %v, %v; want %v (error %v)", tt.only, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestRenderOnlyTheSectionsRun(t *testing.T) {
	r := sampleReport()
	r.Header.Sections = []string{"upgrade-time"}
	md := r.markdown()
	if !strings.Contains(md, "## 3. Upgrade time by listener count") {
		t.Errorf("no heading of the section run:\n%s", md)
	}
	for _, h := range []string{"## 1.", "## 2.", "## 4.", "## 5.", "## 6."} {
		if strings.Contains(md, h) {
			t.Errorf("got a %q heading; want upgrade-time only", h)
		}
	}
}
