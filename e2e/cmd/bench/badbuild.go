//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/harness"
	"github.com/handoff-go/handoff/e2e/internal/load"
	"github.com/handoff-go/handoff/e2e/internal/proc"
	"github.com/handoff-go/handoff/internal/testutil"
)

// Section badbuild: a deploy of a build that exits soon after it is ready,
// under clients that open a new connection for every request, so that a
// moment with nothing listening shows as refused connections.
const (
	crashAfter     = time.Second            // the bad builds exit this long after they are ready
	badProbation   = 5 * time.Second        // the demo's -probation in this section
	badPace        = 10 * time.Millisecond  // between one client's requests
	badTimeout     = 2 * time.Second        // per request
	answerWindow   = time.Second            // after a death, how long to wait for an answer
	answerTail     = 200 * time.Millisecond // load kept on after that answer, to count what follows
	resendSIGHUP   = time.Second            // a SIGHUP with no new pid this long after is sent again
	badRoundErrors = 3                      // a server's rounds stop after this many errors
)

// badBuildBudget is the time section badbuild adds to the run's budget.
func badBuildBudget(o options) time.Duration {
	perRound := crashAfter + answerWindow + answerTail + 2*time.Second // a cold start, load start and stop
	return time.Duration(2*o.badRounds)*perRound + 10*time.Second
}

// badBuildResult is section badbuild: for each server of pair, rounds of
// deploying a bad build over a good one under load.
type badBuildResult struct {
	Clients    int            `json:"clients"`
	Rounds     int            `json:"rounds_asked"`
	CrashAfter time.Duration  `json:"crash_after_ready_ns"`
	Probation  time.Duration  `json:"handoff_probation_ns"`
	Window     time.Duration  `json:"answer_window_ns"`
	Pace       time.Duration  `json:"client_pace_ns"`
	Runs       [2]badBuildRun `json:"runs"`
}

// badBuildRun is one server's rounds and their sums.
type badBuildRun struct {
	Server     kind             `json:"server"`
	Error      string           `json:"error,omitempty"` // why its rounds stopped early
	Rounds     []badBuildRound  `json:"rounds"`
	Gap        dist             `json:"death_to_answer"` // of the rounds answered within the window
	NoAnswer   int              `json:"rounds_without_answer"`
	ByOld      int              `json:"rounds_answered_by_old_pid"`
	ColdStarts int              `json:"cold_starts"`
	Answered   int64            `json:"answered"`
	Failed     int64            `json:"failed"`
	InFlight   int64            `json:"failed_in_flight_at_death"`
	AfterDeath int64            `json:"failed_after_death"`
	Refused    int64            `json:"refused"`
	Errors     map[string]int64 `json:"load_errors,omitempty"`
}

// badBuildRound is one deploy of the bad build. The death is when the
// bad pid exited, seen through a pidfd; the answer is the first 200 that
// arrived after it from another pid.
type badBuildRound struct {
	Error      string           `json:"error,omitempty"`
	OldPID     int              `json:"old_pid"`
	BadPID     int              `json:"bad_pid"`
	SIGHUPs    int              `json:"sighups"`
	Lived      time.Duration    `json:"new_pid_to_death_ns"`
	Gap        time.Duration    `json:"death_to_answer_ns"` // 0 when none came
	AnsweredBy int              `json:"answered_by_pid"`    // 0: no answer within the window
	ColdStart  bool             `json:"cold_start"`         // the last round left nothing serving: this one started cold
	Answered   int64            `json:"answered"`
	Failed     int64            `json:"failed"`
	InFlight   int64            `json:"failed_in_flight_at_death"` // started before the death, ended after
	AfterDeath int64            `json:"failed_after_death"`        // started after the death
	Refused    int64            `json:"refused"`
	Errors     map[string]int64 `json:"load_errors,omitempty"`
}

func runBadBuild(b *bench, o options, rep *report) {
	res := b.measureBadBuild(o.clients, o.badRounds)
	for _, r := range res.Runs {
		progress("badbuild: %s: death → answer median %s max %s, %d of %d rounds without an answer, %d failed, %d refused, %d cold starts %s",
			r.Server, ms(r.Gap.Median), ms(r.Gap.Max), r.NoAnswer, len(r.Rounds), r.Failed, r.Refused, r.ColdStarts, r.Error)
	}
	rep.BadBuild = &res
}

// badDeploy is one server deployed from a directory of its own, as a
// deploy tool would: exe is the path every generation starts from, and the
// bench swaps the good or the bad build into it.
type badDeploy struct {
	s         *server
	exe       string
	good, bad string // copies of the builds, in the same directory
	serving   int    // the pid serving; 0: none, start cold
}

func (b *bench) measureBadBuild(clients, rounds int) badBuildResult {
	res := badBuildResult{Clients: clients, Rounds: rounds, CrashAfter: crashAfter, Probation: badProbation,
		Window: answerWindow, Pace: badPace}
	var deploys [2]*badDeploy
	defer func() {
		for _, d := range deploys {
			if d != nil {
				b.stopServer(d.s)
			}
		}
	}()
	for i, k := range pair {
		res.Runs[i].Server = k
	}
	for r := range rounds {
		for _, i := range order(r, len(pair)) {
			b.badBuildStep(&res.Runs[i], &deploys[i], r, clients)
		}
	}
	for i := range res.Runs {
		res.Runs[i].sum()
	}
	return res
}

// badBuildStep runs round r of one server, deploying it first if need be.
func (b *bench) badBuildStep(run *badBuildRun, d **badDeploy, r, clients int) {
	if run.Error != "" {
		return
	}
	if b.outOfTime() {
		run.Error = errOutOfTime.Error()
		return
	}
	if *d == nil {
		var err error
		if *d, err = b.newBadDeploy(run.Server); err != nil {
			run.Error = err.Error()
			return
		}
	}
	rd := b.badRound(*d, clients)
	run.Rounds = append(run.Rounds, rd)
	progress("badbuild: %s round %d: bad pid %d lived %s, answer after %s by pid %d, %d failed (%d in flight at the death), %d refused %s",
		run.Server, r+1, rd.BadPID, ms(rd.Lived), ms(rd.Gap), rd.AnsweredBy, rd.Failed, rd.InFlight, rd.Refused, rd.Error)
	if errs := run.errorCount(); errs >= badRoundErrors {
		run.Error = fmt.Sprintf("stopped after %d rounds with errors", errs)
	}
}

// newBadDeploy copies k's good and bad builds into a new directory. It
// starts nothing: the first round starts the good build cold.
func (b *bench) newBadDeploy(k kind) (*badDeploy, error) {
	dir, err := b.tempDir()
	if err != nil {
		return nil, fmt.Errorf("badbuild %s: %w", k, err)
	}
	good, bad, name := b.bins.demo, b.bins.demoBad, "demo"
	if k == tableflip {
		good, bad, name = b.bins.tfdemo, b.bins.tfdemoBad, "tfdemo"
	}
	d := &badDeploy{exe: filepath.Join(dir, name), good: filepath.Join(dir, name+".good"), bad: filepath.Join(dir, name+".bad"),
		s: &server{kind: k, label: "badbuild", dir: dir, pidFile: filepath.Join(dir, "pid"), logPath: filepath.Join(dir, "log"),
			ctlPath: filepath.Join(dir, "ctl"), eventsPath: filepath.Join(dir, "events")}}
	err = harness.ReplaceFile(d.good, good)
	if err == nil {
		err = harness.ReplaceFile(d.bad, bad)
	}
	if err == nil {
		d.s.addr, err = testutil.FreeAddr()
	}
	if err != nil {
		b.removeDir(dir)
		return nil, fmt.Errorf("badbuild %s: %w", k, err)
	}
	return d, nil
}

// startCold kills whatever is left of d's server and starts the good
// build afresh, on the same address.
func (b *bench) startCold(d *badDeploy) error {
	if d.s.pgid != 0 {
		if err := b.killGroup(d.s.pgid); err != nil {
			return err
		}
	}
	os.Remove(d.s.ctlPath) // a dead generation's socket: no takeover to try
	os.Remove(d.s.pidFile)
	if err := harness.ReplaceFile(d.exe, d.good); err != nil {
		return err
	}
	args := d.s.args(1)
	if d.s.kind == handoff {
		args = append(args, "-probation", badProbation.String())
	}
	pgid, err := b.spawn(d.exe, args, d.s.logPath)
	if err != nil {
		return err
	}
	d.s.pgid = pgid
	if err := b.waitServing(d.s); err != nil {
		return err
	}
	d.serving = pgid
	return nil
}

// badRound deploys the bad build over d's serving generation under load,
// waits for it to die and for an answer after that. The pid that answered
// serves the next round; when none did, or the round went wrong, the next
// round starts cold.
func (b *bench) badRound(d *badDeploy, clients int) (rd badBuildRound) {
	if d.serving == 0 {
		rd.ColdStart = d.s.pgid != 0 // not the first start
		if err := b.startCold(d); err != nil {
			rd.Error = "cold start: " + err.Error()
			return rd
		}
	}
	rd.OldPID = d.serving
	w := &deathWatch{back: make(chan struct{})}
	run := load.Start(load.Config{Addr: d.s.addr, Clients: clients, Mode: load.NewConn, Pace: badPace, Timeout: badTimeout,
		MaxDuration: upgradeTimeout + crashAfter + 2*answerWindow + 10*time.Second, MaxRequests: 10_000, Observe: w.observe})
	err := b.loadGoing(run, clients)
	if err == nil {
		err = b.awaitDeathAndAnswer(d, &rd, w)
	}
	res := run.Stop()
	w.tally(&rd, res.Errors)
	d.serving = rd.AnsweredBy
	if err != nil {
		rd.Error, d.serving = err.Error(), 0
	}
	return rd
}

// loadGoing waits until run's clients have had a few answers each.
func (b *bench) loadGoing(run *load.Run, clients int) error {
	if !harness.Until(harness.Earliest(5*time.Second, b.end), time.Millisecond, func() bool {
		ok, _ := run.Counts()
		return ok >= int64(4*clients)
	}) {
		ok, failed := run.Counts()
		return fmt.Errorf("load did not get going: %d answered, %d failed", ok, failed)
	}
	return nil
}

// awaitDeathAndAnswer deploys the bad build, waits until it dies, then
// until another pid answers or answerWindow passes.
func (b *bench) awaitDeathAndAnswer(d *badDeploy, rd *badBuildRound, w *deathWatch) error {
	seen, watch, err := b.deployBad(d, rd)
	if err != nil {
		return err
	}
	defer watch.Close()
	died, err := watch.Wait(crashAfter + 10*time.Second)
	if err != nil {
		return err
	}
	rd.Lived = died.Sub(seen)
	w.died(died, rd.BadPID)
	select {
	case <-w.back:
		time.Sleep(answerTail) // a measurement period: what fails after the answer counts too
	case <-time.After(time.Until(died.Add(answerWindow))):
	}
	return nil
}

// deployBad swaps the bad build into d.exe, sends SIGHUP to the serving
// pid (again every resendSIGHUP until a new pid shows), and swaps the
// good build back once the pid file names the bad pid, which has exec'd
// by then. It returns when that pid showed and a watch on its exit.
func (b *bench) deployBad(d *badDeploy, rd *badBuildRound) (time.Time, *harness.ExitWatch, error) {
	if err := harness.ReplaceFile(d.exe, d.bad); err != nil {
		return time.Time{}, nil, err
	}
	before, _ := proc.ReadPID(d.s.pidFile) // the serving pid, or a dead bad one a rollback left
	var sent time.Time
	var killErr error
	found := harness.Until(harness.Earliest(upgradeTimeout, b.end), pidPoll, func() bool {
		if time.Since(sent) >= resendSIGHUP {
			if killErr = syscall.Kill(d.serving, syscall.SIGHUP); killErr != nil {
				return true
			}
			sent = time.Now()
			rd.SIGHUPs++
		}
		pid, ok := proc.ReadPID(d.s.pidFile)
		rd.BadPID = pid
		return ok && pid != d.serving && pid != before
	})
	seen := time.Now()
	if err := harness.ReplaceFile(d.exe, d.good); err != nil {
		return seen, nil, err
	}
	switch {
	case killErr != nil:
		rd.BadPID = 0
		return seen, nil, fmt.Errorf("SIGHUP to %d: %w", d.serving, killErr)
	case !found:
		rd.BadPID = 0
		return seen, nil, fmt.Errorf("no new pid within %v: %s", upgradeTimeout, harness.LastLogLine(d.s.logPath))
	}
	watch, err := harness.WatchExit(rd.BadPID)
	return seen, watch, err
}

// deathWatch is every request of a round, and the moment the first one
// after the bad pid's death was answered by another pid.
type deathWatch struct {
	back chan struct{} // closed at that answer

	mu       sync.Mutex
	reqs     []request
	death    time.Time // zero until died
	bad      string
	answered bool
}

// request is one request of the load: when, and its failure kind ("" for
// a 200, load.Kind otherwise).
type request struct {
	start, end time.Time
	pid, fail  string
}

func (w *deathWatch) observe(start, end time.Time, pid string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := request{start: start, end: end, pid: pid}
	if err != nil {
		r.fail = load.Kind(err)
	}
	w.reqs = append(w.reqs, r)
	if !w.answered && !w.death.IsZero() && w.isAnswerLocked(r) {
		w.answered = true
		close(w.back)
	}
}

func (w *deathWatch) died(at time.Time, pid int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.death, w.bad = at, strconv.Itoa(pid)
}

// isAnswerLocked: a 200 that arrived after the death from another pid.
func (w *deathWatch) isAnswerLocked(r request) bool {
	return r.fail == "" && r.end.After(w.death) && r.pid != w.bad
}

// tally adds the round's requests up into rd, once the load has stopped.
func (w *deathWatch) tally(rd *badBuildRound, errs map[string]int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	rd.Errors, rd.Refused = errs, errs["refused"]
	var first request
	for _, r := range w.reqs {
		if r.fail == "" {
			rd.Answered++
			if !w.death.IsZero() && w.isAnswerLocked(r) && (first.end.IsZero() || r.end.Before(first.end)) {
				first = r
			}
			continue
		}
		rd.Failed++
		switch {
		case w.death.IsZero() || r.end.Before(w.death):
		case r.start.Before(w.death):
			rd.InFlight++
		default:
			rd.AfterDeath++
		}
	}
	if !first.end.IsZero() {
		rd.Gap = first.end.Sub(w.death)
		rd.AnsweredBy, _ = strconv.Atoi(first.pid)
	}
}

// errorCount is how many of r's rounds went wrong.
func (r *badBuildRun) errorCount() int {
	n := 0
	for _, rd := range r.Rounds {
		if rd.Error != "" {
			n++
		}
	}
	return n
}

// sum fills r's totals from its rounds.
func (r *badBuildRun) sum() {
	var gaps []time.Duration
	r.Errors = map[string]int64{}
	for _, rd := range r.Rounds {
		switch {
		case rd.AnsweredBy != 0:
			gaps = append(gaps, rd.Gap)
		case rd.Error == "":
			r.NoAnswer++
		}
		if rd.AnsweredBy != 0 && rd.AnsweredBy == rd.OldPID {
			r.ByOld++
		}
		if rd.ColdStart {
			r.ColdStarts++
		}
		r.Answered, r.Failed, r.Refused = r.Answered+rd.Answered, r.Failed+rd.Failed, r.Refused+rd.Refused
		r.InFlight, r.AfterDeath = r.InFlight+rd.InFlight, r.AfterDeath+rd.AfterDeath
		for k, n := range rd.Errors {
			r.Errors[k] += n
		}
	}
	r.Gap = summarize(gaps)
}

func renderBadBuild(w *strings.Builder, rep report) {
	r := rep.BadBuild
	if r == nil {
		return
	}
	fmt.Fprintf(w, "A deploy of a build that exits with status 3 %v after it is ready, %d rounds per server, under %d clients "+
		"that each open a new connection for every request, %v apart, and never retry. handoff is the demo with `-probation %v`. "+
		"*Death*: the bad pid exited (pidfd). *Answer*: the first 200 after the death from another pid; none within %v: "+
		"nothing served, and the next round started the good build cold.\n\n",
		r.CrashAfter, r.Rounds, r.Clients, r.Pace, r.Probation, r.Window)
	t := table{header: []string{"server", "rounds", "death → answer, median", "max", "answered by the old pid",
		"no answer within " + r.Window.String(), "cold starts", "failed: in flight at the death / after / before", "refused", "errors"}}
	for _, run := range r.Runs {
		t.add(string(run.Server), strconv.Itoa(len(run.Rounds)), gapCell(run.Gap.Median, run.Gap.N), gapCell(run.Gap.Max, run.Gap.N),
			fmt.Sprintf("%d of %d", run.ByOld, len(run.Rounds)), strconv.Itoa(run.NoAnswer), strconv.Itoa(run.ColdStarts),
			fmt.Sprintf("%d: %d / %d / %d", run.Failed, run.InFlight, run.AfterDeath, run.Failed-run.InFlight-run.AfterDeath),
			strconv.FormatInt(run.Refused, 10), errOr(badErrors(run)))
	}
	fmt.Fprintf(w, "%s\n", t.markdown())
}

// gapCell is a death → answer figure, "–" when no round was answered.
func gapCell(d time.Duration, n int) string {
	if n == 0 {
		return "–"
	}
	return ms(d)
}

// badErrors is why a server's rounds went wrong or stopped, if they did.
func badErrors(run badBuildRun) string {
	var errs []string
	for i, rd := range run.Rounds {
		if rd.Error != "" {
			errs = append(errs, fmt.Sprintf("round %d: %s", i+1, rd.Error))
		}
	}
	if run.Error != "" {
		errs = append(errs, run.Error)
	}
	return strings.Join(errs, "; ")
}
