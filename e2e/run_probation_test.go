//go:build linux

package e2e

import (
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/harness"
	"github.com/handoff-go/handoff/e2e/internal/load"
	"github.com/handoff-go/handoff/e2e/internal/proc"
	"github.com/handoff-go/handoff/internal/testutil"
)

// TestRunProbationRollsBack deploys a build that says READY=1 and dies a
// second later, under -probation 3s and load from clients that never
// retry: `handoff upgrade` must exit 5 (rolled back) naming the old child
// and how the new one died, the old child must serve on (it was never
// signalled) and no connection may be refused; status must show the
// rollback, and so must systemd's STATUS=; a good build then upgrades. The bad build either never
// accepts ("idle": then no request at all may fail) or serves until it
// dies ("serving": what it had accepted when it died may be lost, as
// without probation; nothing may be refused).
func TestRunProbationRollsBack(t *testing.T) {
	for _, serve := range []bool{false, true} {
		name := map[bool]string{false: "idle", true: "serving"}[serve]
		t.Run(name, func(t *testing.T) {
			buildRunBins(t)
			dir := testutil.ShortDir(t)
			app := filepath.Join(dir, "app")
			deploy(t, runBins.goserver, app)
			sock := filepath.Join(dir, "notify") // systemd's, as the supervisor sees it
			nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			r := newRun(t, []string{app}, "-probation", "3s")
			r.env = []string{"NOTIFY_SOCKET=" + sock, "DIESAFTERREADY_SERVE=" + map[bool]string{false: "0", true: "1"}[serve]}
			r.start(t)
			old := r.serving(t)
			run := load.Start(load.Config{Addr: r.addr, Clients: 16, Mode: load.Mixed,
				MaxDuration: time.Minute, MaxRequests: 100_000})
			defer run.Stop()
			waitRequests(t, run, 200)

			deploy(t, runBins.diesready, app)
			bad := rollBack(t, r, old)
			expectNotify(t, nc, "RELOADING=1", "STATUS=rolled back: new pid "+strconv.Itoa(bad)+" exited (exit status 3)", "READY=1")
			waitRequests(t, run, 200)

			deploy(t, runBins.goserver, app)
			up := handoffCLI(t, procOpts{}, "upgrade", "-control", r.control)
			if up.code != 0 {
				t.Fatalf("upgrade to a good build after the rollback: exit %d\n%s", up.code, up.output)
			}
			next := r.serving(t)
			waitRequests(t, run, 200)
			res := run.Stop()
			t.Logf("%s: %s; rolled back from pid %d, then upgraded %d -> %d", name, res.Summary(), bad, old, next)
			if res.Errors["refused"] != 0 || !serve && res.Failed != 0 {
				t.Errorf("%s: %s; want no refused connection (and no failure at all when the bad build never accepts)", name, res.Summary())
			}
			if res.PIDs[strconv.Itoa(old)] == 0 || res.PIDs[strconv.Itoa(next)] == 0 {
				t.Errorf("answers by pid %v; want some from the old child %d and the next %d", res.PIDs, old, next)
			}
			if rec := r.stop(t, r.pid); !rec.OK() {
				t.Fatalf("supervisor after SIGTERM: %v; want exit status 0\n%s", rec, harness.Tail(r.log(), 30))
			}
		})
	}
}

var startedPID = regexp.MustCompile(`new process started: pid (\d+)`)

// rollBack upgrades r to a build that dies on probation and checks the
// rollback; it returns the dead child's pid.
func rollBack(t *testing.T, r *runProc, old int) int {
	t.Helper()
	up := handoffCLI(t, procOpts{}, "upgrade", "-control", r.control)
	m := startedPID.FindStringSubmatch(up.output)
	if m == nil {
		t.Fatalf("upgrade to a build that dies on probation: exit %d\n%s\nno new process started", up.code, up.output)
	}
	bad := m[1]
	t.Logf("handoff upgrade to a build that dies on probation: exit %d\n%s", up.code, up.output)
	wantInOrder(t, up.output, "probation", // the progress event, before the result
		"rolled back; pid "+strconv.Itoa(old)+" serves again: ", "new pid "+bad+" exited (exit status 3)")
	if up.code != 5 {
		t.Fatalf("upgrade to a build that dies on probation: exit %d\n%s\nwant exit 5", up.code, up.output)
	}
	if got := r.serving(t); got != old {
		t.Fatalf("serving child after the rollback: %d; want the old %d", got, old)
	}
	pid, _ := strconv.Atoi(bad)
	if proc.Alive(pid) || r.hasChild(pid) {
		t.Errorf("the child that died on probation, %d, is still there", pid)
	}
	st, err := r.status()
	if err != nil || st.LastUpgrade == nil || !st.LastUpgrade.RolledBack || !strings.Contains(st.LastUpgrade.Error, "exit status 3") {
		t.Errorf("status: last upgrade %+v, %v; want rolled back, saying exit status 3", st.LastUpgrade, err)
	}
	out := handoffCLI(t, procOpts{}, "status", "-control", r.control).output
	if !strings.Contains(out, "rolled back: ") {
		t.Errorf("handoff status:\n%s\nwant the last upgrade rolled back", out)
	}
	return pid
}
