//go:build linux

package e2e

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/harness"
	"github.com/handoff-go/handoff/e2e/internal/load"
)

const runUnit = "demo-run.service"

// TestSystemdRunUnit runs examples/systemd/demo-run.service as shipped (a
// Python server under `handoff run`) under the real systemd, on hybrid
// cgroups and on cgroup2: the supervisor stays MainPID for good; reloads
// under load replace the child with nothing lost; a stop with a slow
// request in flight answers it and ends inactive, with no SIGKILL.
func TestSystemdRunUnit(t *testing.T) {
	skipWithoutNspawn(t)
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skipf("skipping %s: the unit runs /usr/bin/python3: %v", runUnit, err)
	}
	for _, mode := range cgroupModes {
		t.Run(mode.name, func(t *testing.T) { testRunUnit(t, bootUnits(t, mode.unified), mode.unified) })
	}
}

func testRunUnit(t *testing.T, b *unitBox, unified bool) {
	b.mustSystemctl(t, "start", runUnit)
	v := b.runState(t, "after start")
	sup := v["MainPID"]
	child := b.waitChild(t, "")
	transcript(t, "%s started: MainPID %s (the supervisor), child %s serves", runUnit, sup, child)
	b.checkTracking(t, child, unified)

	run := load.Start(load.Config{Addr: b.addr, Clients: 32, Mode: load.Mixed, MaxDuration: 2 * time.Minute})
	defer run.Stop()
	for i := 1; i <= 5; i++ {
		waitRequests(t, run, 50)
		out, code := b.systemctl(t, "reload", runUnit)
		if code != 0 {
			t.Fatalf("reload %d: exit %d\n%s", i, code, out)
		}
		if v := b.runState(t, fmt.Sprintf("reload %d", i)); v["MainPID"] != sup {
			t.Fatalf("reload %d: MainPID %s; want the supervisor %s still", i, v["MainPID"], sup)
		}
		next := b.waitChild(t, child)
		transcript(t, "reload %d: exit 0, MainPID %s, child %s -> %s", i, sup, child, next)
		child = next
	}
	b.checkTracking(t, child, unified)
	waitRequests(t, run, 50)
	res := run.Stop()
	if res.Failed != 0 || res.OK == 0 {
		t.Fatalf("5 reloads: %s; want no failed request", res.Summary())
	}
	transcript(t, "5 reloads under 32 non-retrying clients: %d requests, %d lost, MainPID %s throughout",
		res.OK+res.Failed, res.Failed, sup)

	pid, _ := strconv.Atoi(child)
	slow := b.slowInFlight(t, pid, 1500)
	if out, code := b.systemctl(t, "stop", runUnit); code != 0 {
		t.Fatalf("systemctl stop: exit %d\n%s", code, out)
	}
	if got := <-slow; got != child {
		t.Errorf("slow request in flight at stop: got %q; want answered by child %s", got, child)
	}
	v, err := b.m.Show(runUnit, "ActiveState", "SubState", "Result")
	if err != nil {
		t.Fatal(err)
	}
	if v["ActiveState"] != "inactive" || v["Result"] != "success" {
		t.Errorf("after stop: %s/%s, result %s; want inactive/dead, result success", v["ActiveState"], v["SubState"], v["Result"])
	}
	journal := b.m.Journal(runUnit)
	for _, bad := range []string{"SIGKILL", "remains running after unit stopped", "Failed with result"} {
		if strings.Contains(journal, bad) {
			t.Errorf("journal says %q:\n%s", bad, harness.Tail(journal, 30))
		}
	}
	transcript(t, "systemctl stop: slow request answered by child %s; %s/%s, result %s", child,
		v["ActiveState"], v["SubState"], v["Result"])
	if t.Failed() {
		t.Logf("journal of %s:\n%s", runUnit, harness.Tail(journal, 60))
	}
}

// runState checks that demo-run.service is active/running.
func (b *unitBox) runState(t *testing.T, step string) map[string]string {
	t.Helper()
	v, err := b.m.Show(runUnit, "ActiveState", "SubState", "MainPID", "NRestarts")
	if err != nil {
		t.Fatal(err)
	}
	if v["ActiveState"] != "active" || v["SubState"] != "running" || v["NRestarts"] != "0" {
		t.Fatalf("%s: %s is %s/%s, NRestarts %s; want active/running, 0", step, runUnit, v["ActiveState"], v["SubState"], v["NRestarts"])
	}
	return v
}

// waitChild polls GET / until a pid other than old answers, and returns it.
func (b *unitBox) waitChild(t *testing.T, old string) string {
	t.Helper()
	var got string
	err := harness.Poll(20*time.Second, func() bool {
		got = getPID(b.addr)
		_, err := strconv.Atoi(got)
		return err == nil && got != old
	})
	if err != nil {
		t.Fatalf("GET / on %s: X-Pid %q; want a child other than %q (%v)", b.addr, got, old, err)
	}
	return got
}

// checkTracking: on cgroup2 the unit delegates its cgroup (Delegate=yes)
// and the supervisor puts each generation in a cgroup below it; on
// hybrid, where systemd gives the container no cgroup2 hierarchy, it
// follows them through /proc. `handoff status` says which, and that the
// serving child is all that runs of its generation.
func (b *unitBox) checkTracking(t *testing.T, child string, unified bool) {
	t.Helper()
	var out string
	err := harness.Poll(10*time.Second, func() bool {
		out, _, _ = b.m.Run(10*time.Second, "/usr/local/bin/handoff", "status", "-control", "/run/demo-run/control.sock")
		return strings.Contains(out, "child: pid "+child+" serving") &&
			strings.Contains(out, "processes left: "+child+"\n") != unified &&
			strings.Contains(out, "processes left: "+child+" (cgroup handoff-run.") == unified
	})
	want := regexp.MustCompile(`generations tracked by: cgroup /sys/fs/cgroup/system.slice/` + regexp.QuoteMeta(runUnit) + `\n`)
	if !unified {
		want = regexp.MustCompile(`generations tracked by: subreaper and /proc \(cgroup: no cgroup2 hierarchy is mounted\)\n`)
	}
	if err != nil || !want.MatchString(out) {
		t.Fatalf("handoff status in the unit: want child %s serving alone in its generation, and %q:\n%s", child, want, out)
	}
	transcript(t, "handoff status: %s", strings.TrimSpace(out[strings.Index(out, "generations"):]))
}
