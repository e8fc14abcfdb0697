//go:build linux

package e2e

import (
	"encoding/json"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/handoff-go/handoff/control"
	"github.com/handoff-go/handoff/e2e/internal/load"
)

// rollbackProbation is the probation of the rollback tests: longer than
// the latest kill, short enough for the following good upgrade.
const rollbackProbation = "3s"

// TestProbationRollsBack kills the new generation 0.5 s and 2 s after it
// became ready, started by a child upgrade and by a takeover, under 32
// clients that open a new connection for every request and never retry.
// The old generation must accept again: no connection refused, at most
// one failed request per client (those in flight on the killed process),
// the pid file and `handoff status` naming the old pid and why it rolled
// back; then an upgrade to a good build works. Without probation the old
// generation has exited by the kill and every later connect is refused.
func TestProbationRollsBack(t *testing.T) {
	for _, tc := range []struct {
		name     string
		takeover bool
		after    time.Duration
		reason   string // in the status's last upgrade
	}{
		{name: "child killed 0.5s after ready", after: 500 * time.Millisecond, reason: "died (signal: killed)"},
		{name: "child killed 2s after ready", after: 2 * time.Second, reason: "died (signal: killed)"},
		{name: "takeover killed 0.5s after ready", takeover: true, after: 500 * time.Millisecond, reason: "hung up"},
		{name: "takeover killed 2s after ready", takeover: true, after: 2 * time.Second, reason: "hung up"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const clients = 32
			d := startDemo(t, "-probation", rollbackProbation)
			run := load.Start(load.Config{Addr: d.addr, Clients: clients, Mode: load.NewConn, MaxDuration: time.Minute})
			defer run.Stop()
			waitRequests(t, run, 200)

			var next int
			if tc.takeover {
				next = startProc(t, d.exe, d.args("-probation", rollbackProbation), d.logPath, procOpts{newGroup: true})
				d.waitPID(t, func(p int) bool { return p == next })
			} else {
				next = d.sighup(t, d.first)
			}
			// The scenario itself: a build that dies some time into probation.
			time.Sleep(tc.after)
			if err := syscall.Kill(next, syscall.SIGKILL); err != nil {
				t.Fatalf("kill the new generation %d: %v", next, err)
			}
			d.waitPID(t, func(p int) bool { return p == d.first })
			waitRequests(t, run, 500)
			res := run.Stop()
			if res.Errors["refused"] != 0 || res.Failed > clients {
				t.Fatalf("across the rollback: %s; want no refused connection and at most %d failed (one in flight per client)",
					res.Summary(), clients)
			}
			if res.PIDs[strconv.Itoa(d.first)] == 0 {
				t.Fatalf("across the rollback: %s; want answers from the old pid %d", res.Summary(), d.first)
			}
			t.Logf("%s: %s", tc.name, res.Summary())

			st := statusJSON(t, d.control)
			if st.PID != d.first || st.State != control.StateServing || st.LastUpgrade == nil ||
				!st.LastUpgrade.RolledBack || st.LastUpgrade.NewPID != next || !strings.Contains(st.LastUpgrade.Error, tc.reason) {
				t.Fatalf("status after the rollback: pid %d, state %s, last upgrade %+v; want pid %d serving, rolled back from %d: %s",
					st.PID, st.State, st.LastUpgrade, d.first, next, tc.reason)
			}
			d.upgradeBySignal(t, d.first)
		})
	}
}

// statusJSON asks the server at ctl for its status through the CLI.
func statusJSON(t *testing.T, ctl string) control.Status {
	t.Helper()
	res := handoffCLI(t, procOpts{}, "status", "-json", "-control", ctl)
	var st control.Status
	if err := json.Unmarshal([]byte(res.output), &st); err != nil || res.code != 0 {
		t.Fatalf("handoff status -json: exit %d, %v\n%s", res.code, err, res.output)
	}
	return st
}

// TestCLIUpgradeOutcomes: `handoff upgrade` waits for probation and says
// how it ended by its exit status: 0 passed, 5 rolled back (the old pid
// serves again), 1 failed before Ready; with -at-ready it returns 0 at
// Ready and the rollback happens after it.
func TestCLIUpgradeOutcomes(t *testing.T) {
	d := startDemo(t, "-probation", "2s")
	upgrade := func(flags ...string) cliResult {
		return handoffCLI(t, procOpts{}, append([]string{"upgrade", "-control", d.control, "-wait", "0"}, flags...)...)
	}
	if up := upgrade(); up.code != 0 || !strings.Contains(up.output, "passed probation") {
		t.Fatalf("a good build: exit %d; want 0 after \"passed probation\"\n%s", up.code, up.output)
	}
	serving := d.pid(t)

	deploy(t, bins.diesAfterReady, d.exe)
	up := upgrade()
	if up.code != 5 || !strings.Contains(up.output, "rolled back") || !strings.Contains(up.output, "died (exit status 3)") {
		t.Fatalf("a build that dies after ready: exit %d; want 5, rolled back ... died (exit status 3)\n%s", up.code, up.output)
	}
	if got := d.pid(t); got != serving {
		t.Fatalf("pid file after the rollback names %d; want %d, which serves again", got, serving)
	}

	deploy(t, bins.broken, d.exe)
	if up := upgrade(); up.code != 1 || !strings.Contains(up.output, "upgrade failed") {
		t.Fatalf("a build that exits at start: exit %d; want 1, upgrade failed\n%s", up.code, up.output)
	}

	deploy(t, bins.diesAfterReady, d.exe)
	if up := upgrade("-at-ready"); up.code != 0 || !strings.Contains(up.output, "not waiting for its probation") {
		t.Fatalf("-at-ready: exit %d; want 0 at Ready\n%s", up.code, up.output)
	}
	d.waitPID(t, func(p int) bool { return p == serving }) // then it rolled back all the same
	if st := statusJSON(t, d.control); st.PID != serving || st.LastUpgrade == nil || !st.LastUpgrade.RolledBack {
		t.Fatalf("status after the -at-ready upgrade died: pid %d, last upgrade %+v; want pid %d, rolled back", st.PID, st.LastUpgrade, serving)
	}
	deploy(t, bins.demo, d.exe)
}
