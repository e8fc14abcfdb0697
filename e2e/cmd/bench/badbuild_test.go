//go:build linux

package main

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDeathWatchTally: failures are split by the death, and the answer is
// the first 200 after it from a pid other than the dead one.
func TestDeathWatchTally(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	refused := errors.Join(errors.New("dial"), syscall.ECONNREFUSED)
	w := &deathWatch{back: make(chan struct{})}
	w.observe(at(0), at(1), "10", nil)         // answered before the death
	w.observe(at(1), at(2), "", refused)       // failed before the death
	w.died(at(5), 20)                          // the bad pid 20 is gone at 5 ms
	w.observe(at(4), at(6), "", syscall.EPIPE) // in flight at the death
	w.observe(at(6), at(7), "", refused)       // after the death
	w.observe(at(3), at(8), "20", nil)         // the dead pid's last answer: not an answer
	select {
	case <-w.back:
		t.Fatal("back closed by the dead pid's answer")
	default:
	}
	w.observe(at(7), at(9), "10", nil)
	<-w.back // closed by the old pid's answer, or the test times out
	w.observe(at(9), at(10), "10", nil)
	var rd badBuildRound
	w.tally(&rd, map[string]int64{"refused": 2, "reset": 1})
	want := badBuildRound{Answered: 4, Failed: 3, InFlight: 1, AfterDeath: 1, Refused: 2, Gap: 4 * time.Millisecond, AnsweredBy: 10}
	if rd.Answered != want.Answered || rd.Failed != want.Failed || rd.InFlight != want.InFlight || rd.AfterDeath != want.AfterDeath ||
		rd.Refused != want.Refused || rd.Gap != want.Gap || rd.AnsweredBy != want.AnsweredBy {
		t.Errorf("tally: got %+v; want %+v", rd, want)
	}
}

// TestBadBuildRunSum: rounds without an answer count as such, not as
// answered at 0 ms; rounds with errors count as neither.
func TestBadBuildRunSum(t *testing.T) {
	r := badBuildRun{Rounds: []badBuildRound{
		{OldPID: 10, AnsweredBy: 10, Gap: 3 * time.Millisecond, Failed: 2, InFlight: 2, Errors: map[string]int64{"reset": 2}},
		{OldPID: 10, AnsweredBy: 10, Gap: 5 * time.Millisecond},
		{OldPID: 10, Failed: 7, AfterDeath: 7, Refused: 7, Errors: map[string]int64{"refused": 7}},
		{OldPID: 30, ColdStart: true, Error: "no new pid"},
	}}
	r.sum()
	if r.Gap.N != 2 || r.Gap.Median != 4*time.Millisecond || r.Gap.Max != 5*time.Millisecond {
		t.Errorf("gap: got %+v; want n 2, median 4ms, max 5ms", r.Gap)
	}
	if r.NoAnswer != 1 || r.ByOld != 2 || r.ColdStarts != 1 || r.Failed != 9 || r.Refused != 7 || r.Errors["reset"] != 2 {
		t.Errorf("sum: got %+v", r)
	}
}

func TestRenderBadBuild(t *testing.T) {
	r := sampleReport()
	r.Header.Sections = []string{"badbuild"}
	r.BadBuild = &badBuildResult{Clients: 32, Rounds: 1, CrashAfter: time.Second, Probation: 5 * time.Second, Window: time.Second,
		Runs: [2]badBuildRun{
			{Server: handoff, Rounds: []badBuildRound{{OldPID: 10, AnsweredBy: 10}}, ByOld: 1, Gap: summarize([]time.Duration{3 * time.Millisecond})},
			{Server: tableflip, Rounds: []badBuildRound{{OldPID: 30}}, NoAnswer: 1, Failed: 9, AfterDeath: 9, Refused: 9},
		}}
	md := r.markdown()
	for _, want := range []string{"## 8. Deploying a build that dies after it is ready",
		"| handoff | 1 | 3.00 ms | 3.00 ms | 1 of 1 | 0 | 0 | 0: 0 / 0 / 0 | 0 | none |",
		"| tableflip | 1 | – | – | 0 of 1 | 1 | 0 | 9: 0 / 9 / 0 | 9 | none |"} {
		if !strings.Contains(md, want) {
			t.Errorf("no %q in:\n%s", want, md)
		}
	}
}
