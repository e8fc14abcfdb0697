//go:build linux

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/harness"
	"github.com/handoff-go/handoff/e2e/internal/load"
	"github.com/handoff-go/handoff/e2e/internal/proc"
	"github.com/handoff-go/handoff/internal/testutil"
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
	next := d.upgradeBySignalNoWait(t, old)
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
		t.Fatalf("pid %d open fds: got %d; want %d:\n%s", pid, got, want, testutil.FDList(pid))
	}
	if want < 0 {
		t.Logf("pid %d settled at %d open fds:\n%s", pid, got, testutil.FDList(pid))
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

// TestZeroLossUnderLoad upgrades the demo 30 times in each client mode
// while 32 clients that never retry send requests: not one request may
// fail, every upgrade must finish, and every old generation must exit 0.
func TestZeroLossUnderLoad(t *testing.T) {
	for _, mode := range []load.Mode{load.KeepAlive, load.NewConn, load.Mixed} {
		t.Run(string(mode), func(t *testing.T) {
			d := startDemo(t)
			run := load.Start(load.Config{Addr: d.addr, Clients: 32, Mode: mode, MaxDuration: 2 * time.Minute})
			defer run.Stop()
			pid := d.first
			for range 30 {
				waitRequests(t, run, 50)
				pid = d.upgradeBySignal(t, pid)
			}
			waitRequests(t, run, 50)
			res := run.Stop()
			if res.Failed != 0 || res.OK == 0 {
				t.Fatalf("%s: %s; want no failed request", mode, res.Summary())
			}
			t.Logf("%s: 30 upgrades, %s", mode, res.Summary())
		})
	}
}

// TestSlowRequestsFinishOnOldGeneration holds requests in flight across an
// upgrade: the old process must answer every one of them itself, after the
// new one took over.
func TestSlowRequestsFinishOnOldGeneration(t *testing.T) {
	d := startDemo(t)
	old := d.first
	results := make(chan string, 8)
	for range cap(results) {
		go func() { results <- slowGet(d.addr, 1500) }()
	}
	waitInFlight(t, d, old, cap(results))
	next := d.upgradeBySignal(t, old)
	for range cap(results) {
		if got := <-results; got != strconv.Itoa(old) {
			t.Errorf("slow request: got %q; want answered by the old pid %d", got, old)
		}
	}
	if got := getPID(d.addr); got != strconv.Itoa(next) {
		t.Errorf("after the upgrade: X-Pid %q; want %d", got, next)
	}
}

// slowGet asks for /slow?ms=ms on its own connection and returns X-Pid, or
// the error.
func slowGet(addr string, ms int) string {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(fmt.Sprintf("http://%s/slow?ms=%d", addr, ms))
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "status " + resp.Status
	}
	return resp.Header.Get("X-Pid")
}

// waitInFlight waits until pid has n established client connections (so
// the slow requests are really in flight before the upgrade starts).
func waitInFlight(t *testing.T, d *demoProc, pid, n int) {
	t.Helper()
	var got int
	if err := harness.Poll(10*time.Second, func() bool { got = established(pid, d.addr); return got >= n }); err != nil {
		t.Fatalf("pid %d: %d connections in flight; want %d", pid, got, n)
	}
}

// established counts the connections to addr that pid has accepted and
// holds open.
func established(pid int, addr string) int { return tcpSockets(pid, addr, tcpEstablished) }

// TestUpgradeWhileOlderGenerationsDrain keeps generation 1 draining (a
// slow request) while generation 2 upgrades to 3, and shows that past
// -max-draining an upgrade is refused with a reason.
func TestUpgradeWhileOlderGenerationsDrain(t *testing.T) {
	d := newDeployment(t)
	d.start(t, "-max-draining", "1")
	gen1 := d.first
	slow := make(chan string, 1)
	go func() { slow <- slowGet(d.addr, 3000) }()
	waitInFlight(t, d, gen1, 1)
	gen2 := d.upgradeBySignalNoWait(t, gen1)

	// Generation 1 still drains its slow request: with -max-draining 1 the
	// next upgrade must be refused, and say why.
	syscall.Kill(gen2, syscall.SIGHUP)
	if err := harness.Poll(10*time.Second, func() bool { return strings.Contains(d.log(), "too many generations still draining") }); err != nil {
		t.Fatalf("upgrade while gen 1 drains: no refusal logged:\n%s", d.log())
	}
	if !proc.Alive(gen1) {
		t.Fatalf("gen 1 (pid %d) exited before its slow request finished", gen1)
	}
	if got := <-slow; got != strconv.Itoa(gen1) {
		t.Fatalf("slow request: got %q; want answered by gen 1 pid %d", got, gen1)
	}
	waitGone(t, gen1, 10*time.Second)
	gen3 := d.upgradeBySignal(t, gen2)
	if gen3 == gen2 {
		t.Fatal("no new generation after gen 1 finished draining")
	}
}

// upgradeBySignalNoWait is upgradeBySignal without waiting for the old
// generation to exit.
func (d *demoProc) upgradeBySignalNoWait(t *testing.T, old int) int {
	t.Helper()
	if err := syscall.Kill(old, syscall.SIGHUP); err != nil {
		t.Fatalf("SIGHUP %d: %v", old, err)
	}
	next := d.waitPID(t, func(p int) bool { return p != old })
	d.waitServes(t, next)
	return next
}
