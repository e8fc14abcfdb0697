//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/handoff-go/handoff/internal/wire"
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

func TestRatio(t *testing.T) {
	tests := []struct {
		a, b float64
		want string
	}{
		{a: 1, b: 2, want: "0.50x"},
		{a: 3, b: 1, want: "3.00x"},
		{a: 1, b: 0, want: "n/a"},
	}
	for _, tt := range tests {
		if got := ratio(tt.a, tt.b); got != tt.want {
			t.Errorf("ratio(%v, %v): got %q; want %q", tt.a, tt.b, got, tt.want)
		}
	}
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
		res  wire.Result
		want string
	}{
		{name: "accepted", res: wire.Result{OK: true, PID: 12}, want: ""},
		{name: "in progress", res: wire.Result{Code: wire.CodeInProgress, Error: "upgrader: upgrade in progress"}, want: wire.CodeInProgress},
		{name: "too many draining", res: wire.Result{Code: wire.CodeTooManyDraining, Error: "x"}, want: wire.CodeTooManyDraining},
		{name: "no code", res: wire.Result{Error: "x"}, want: wire.CodeFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, _ := json.Marshal(tt.res)
			st, reason, ok := decodeStep(wire.Msg{Type: wire.TypeResult, Body: body}, time.Now())
			if !ok || st.Event != stepResult {
				t.Fatalf("decodeStep: got %+v, %v; want a result step", st, ok)
			}
			if reason != tt.want {
				t.Errorf("refusal reason: got %q; want %q", reason, tt.want)
			}
		})
	}
}

func TestGoalJudge(t *testing.T) {
	tests := []struct {
		name     string
		g        goal
		v        float64
		measured bool
		want     string
	}{
		{name: "at least, met", g: goal{limit: 0.95, atLeast: true}, v: 0.97, measured: true, want: ">= 0.95x: met"},
		{name: "hidden by rounding", g: goal{limit: 0.95, atLeast: true}, v: 0.9498, measured: true, want: ">= 0.95x: not met (0.9498x)"},
		{name: "at most, not met", g: goal{limit: 1.3}, v: 1.33, measured: true, want: "<= 1.3x: not met"},
		{name: "at most, met exactly", g: goal{limit: 1.0}, v: 1.0, measured: true, want: "<= 1.0x: met (1.0000x)"},
		{name: "not measured", g: goal{limit: 0.3}, v: 0.1, measured: false, want: "<= 0.3x: not measured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.g.judge(tt.v, tt.measured); got != tt.want {
				t.Errorf("judge(%v): got %q; want %q", tt.v, got, tt.want)
			}
		})
	}
}
