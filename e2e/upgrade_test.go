//go:build linux

package e2e

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/harness"
	"github.com/handoff-go/handoff/e2e/internal/load"
)

// TestUpgradeBySIGHUP upgrades the demo ten times by SIGHUP while clients
// send requests: each upgrade must yield a new pid that serves, every old
// pid must exit 0, no request may fail, and the serving process's fd count
// must not grow from one generation to the next.
func TestUpgradeBySIGHUP(t *testing.T) {
	d := startDemo(t)
	pid := d.first
	baseline := quietFDs(t, pid, -1)
	for i := range 10 {
		run := load.Start(load.Config{Addr: d.addr, Clients: 4, Mode: load.Mixed, MaxDuration: 30 * time.Second})
		waitRequests(t, run, 20)
		next := d.upgradeBySignal(t, pid)
		waitRequests(t, run, 20) // some load on the new generation too
		res := run.Stop()
		if res.Failed != 0 {
			t.Fatalf("upgrade %d: %d requests failed: %s", i+1, res.Failed, res.Summary())
		}
		if n := res.PIDs[strconv.Itoa(next)]; n == 0 {
			t.Errorf("upgrade %d: new pid %d answered no request (%s)", i+1, next, res.Summary())
		}
		quietFDs(t, next, baseline)
		pid = next
	}
}

// upgradeBySignal sends SIGHUP to old and returns the new pid once it
// serves and old has exited 0.
func (d *demoProc) upgradeBySignal(t *testing.T, old int) int {
	t.Helper()
	if err := syscall.Kill(old, syscall.SIGHUP); err != nil {
		t.Fatalf("SIGHUP %d: %v", old, err)
	}
	next := d.waitPID(t, func(p int) bool { return p != old })
	d.waitServes(t, next)
	if rec := waitGone(t, old, 15*time.Second); !rec.Status.Exited() || rec.Status.ExitStatus() != 0 {
		t.Fatalf("old pid %d ended with %v; want exit status 0", old, rec)
	}
	return next
}

// waitRequests waits until run has completed n more requests.
func waitRequests(t *testing.T, run *load.Run, n int64) {
	t.Helper()
	ok0, _ := run.Counts()
	if err := harness.Poll(10*time.Second, func() bool { ok, _ := run.Counts(); return ok >= ok0+n }); err != nil {
		ok, failed := run.Counts()
		t.Fatalf("load stalled at ok=%d failed=%d: %v", ok, failed, err)
	}
}

// quietFDs waits until pid's fd count settles at want (or, with want < 0,
// just stops changing) and returns it. Connections of finished clients
// close asynchronously, so the count is polled; a leak never settles.
func quietFDs(t *testing.T, pid, want int) int {
	t.Helper()
	var got int
	stable := 0
	err := harness.Poll(10*time.Second, func() bool {
		n := harness.FDCount(pid)
		if n == got {
			stable++
		} else {
			got, stable = n, 0
		}
		if want >= 0 {
			return got == want
		}
		return stable >= 20
	})
	if err != nil {
		t.Fatalf("pid %d open fds: got %d; want %d:\n%s", pid, got, want, harness.FDList(pid))
	}
	if want < 0 {
		t.Logf("pid %d settled at %d open fds:\n%s", pid, got, harness.FDList(pid))
	}
	return got
}

// TestBrokenDeployKeepsServing replaces the executable with one that exits
// at once: the upgrade fails, the old process keeps serving from the same
// pid, and putting a good binary back upgrades again.
func TestBrokenDeployKeepsServing(t *testing.T) {
	d := startDemo(t)
	old := d.first
	deploy(t, bins.broken, d.exe)
	run := load.Start(load.Config{Addr: d.addr, Clients: 4, Mode: load.Mixed, MaxDuration: 30 * time.Second})
	waitRequests(t, run, 20)
	syscall.Kill(old, syscall.SIGHUP)
	if err := harness.Poll(10*time.Second, func() bool { return strings.Contains(d.log(), "upgrade failed") }); err != nil {
		t.Fatalf("no failed upgrade logged: %v\n%s", err, d.log())
	}
	waitRequests(t, run, 20)
	if res := run.Stop(); res.Failed != 0 || len(res.PIDs) != 1 || res.PIDs[strconv.Itoa(old)] == 0 {
		t.Fatalf("during the bad deploy: %s; want every request answered by pid %d", res.Summary(), old)
	}
	for _, want := range []string{"exited before it was ready", "exit status 3"} {
		if !strings.Contains(d.log(), want) {
			t.Errorf("log lacks %q:\n%s", want, d.log())
		}
	}
	if pid := d.pid(t); pid != old {
		t.Fatalf("pid file: got %d; want %d (unchanged)", pid, old)
	}
	deploy(t, bins.demo, d.exe)
	next := d.upgradeBySignal(t, old)
	if next == old {
		t.Fatalf("no new pid after the good deploy")
	}
}

// TestUpgradeAfterExecutableDeleted removes the deployed binary (as `go
// run` does with its temporary build once the first generation exits): the
// next upgrades start the running image again, and say so.
func TestUpgradeAfterExecutableDeleted(t *testing.T) {
	d := startDemo(t)
	if err := os.Remove(d.exe); err != nil {
		t.Fatal(err)
	}
	pid := d.first
	for range 2 {
		pid = d.upgradeBySignal(t, pid)
	}
	if !strings.Contains(d.log(), "executable is gone; starting the running image again") {
		t.Errorf("no warning about the missing executable:\n%s", d.log())
	}
}
