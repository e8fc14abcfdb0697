//go:build linux

package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/harness"
	"github.com/handoff-go/handoff/e2e/internal/load"
	"github.com/handoff-go/handoff/e2e/internal/proc"
)

// TestMoveFallbackOlderBuild upgrades a moving demo to a build that does
// not take connections, then back: the Hello of the older build offers
// nothing, so the old generation drains as before (its idle connection is
// closed after IdleGrace, not moved); the older build moves nothing to its
// successor, which just sees it hang up. Keep-alive load loses nothing, and
// the last generation's fd count is the first one's.
func TestMoveFallbackOlderBuild(t *testing.T) {
	d := startDemo(t)
	base := quietFDs(t, d.first, -1)
	run := load.Start(load.Config{Addr: d.addr, Clients: 6, Mode: load.KeepAlive, MaxDuration: time.Minute})
	waitRequests(t, run, 50)
	idle := dialRaw(t, d.addr)
	idle.mustGet(t, "0")

	deploy(t, moveBins.noMove, d.exe)
	gen2 := d.sighup(t, d.first)
	waitExit0(t, d.first, 10*time.Second)
	if err := idle.waitEOF(5 * time.Second); err != nil {
		t.Errorf("idle connection after upgrading to a build that takes none: %v", err)
	}
	waitRequests(t, run, 50)
	deploy(t, bins.demo, d.exe)
	gen3 := d.sighup(t, gen2)
	waitExit0(t, gen2, 10*time.Second)
	waitRequests(t, run, 50)
	res := run.Stop()
	if res.Failed != 0 {
		t.Fatalf("%d requests lost: %s", res.Failed, res.Summary())
	}
	if got := quietFDs(t, gen3, -1); got > base {
		t.Errorf("generation 3 holds %d fds; generation 1 held %d before the load", got, base)
	}
	if log := d.log(); !strings.Contains(log, "moving=0") {
		t.Errorf("generation 1 should have drained without moving (no moving=0 in the log)")
	}
}

// TestMoveFallbackFaultyNext: the next generation (e2e/internal/fakenext)
// offers to take connections, then refuses the first round, hangs up in
// the middle of it, or stops answering. The old generation must notice
// (at worst after its per-step timeout), drain what it holds as before
// and exit 0; keep-alive load loses nothing; the idle connections it held
// end in EOF (even when the stalled receiver still has their descriptors
// queued unread), and the faulty process holds none of them (except the
// stalled one, which read some and will never look at them).
func TestMoveFallbackFaultyNext(t *testing.T) {
	for _, mode := range []string{"refuse", "hangup", "stall"} {
		t.Run(mode, func(t *testing.T) {
			d := newDeployment(t)
			d.env = []string{"HANDOFF_FAKENEXT_MODE=" + mode}
			d.start(t)
			idle := make([]*rawConn, 20)
			for i := range idle {
				idle[i] = dialRaw(t, d.addr)
				idle[i].mustGet(t, itoa(i))
			}
			run := load.Start(load.Config{Addr: d.addr, Clients: 4, Mode: load.KeepAlive, MaxDuration: time.Minute})
			waitRequests(t, run, 50)
			deploy(t, moveBins.fakeNext, d.exe)
			next := d.sighup(t, d.first)
			waitExit0(t, d.first, 15*time.Second)
			waitRequests(t, run, 50) // fakenext serves the listener
			res := run.Stop()
			if res.Failed != 0 {
				t.Errorf("%d requests lost: %s", res.Failed, res.Summary())
			}
			holders := []int{next}
			if mode == "stall" {
				// It read the first batch's fds off the socket and will
				// never look at them: its own leak, by construction.
				// The clients still see EOF (checked here); killing it
				// is TestMoveFallbackNextKilled.
				holders = nil
			}
			checkIdleDrained(t, d, idle, holders...)
		})
	}
}

// TestMoveFallbackNextKilled kills the next generation while the old one
// waits for it mid-move: the old one drains what it holds and exits 0, and
// its idle connections end in EOF. (With the new generation dead nothing
// serves the listener any more, so no load runs here.)
func TestMoveFallbackNextKilled(t *testing.T) {
	d := newDeployment(t)
	d.env = []string{"HANDOFF_FAKENEXT_MODE=stall"}
	d.start(t)
	idle := make([]*rawConn, 20)
	for i := range idle {
		idle[i] = dialRaw(t, d.addr)
		idle[i].mustGet(t, itoa(i))
	}
	deploy(t, moveBins.fakeNext, d.exe)
	next := d.sighup(t, d.first)
	if err := harness.Poll(10*time.Second, func() bool { return strings.Contains(d.log(), "fakenext: stalls") }); err != nil {
		t.Fatalf("fakenext never stalled mid-move: %v", err)
	}
	syscall.Kill(next, syscall.SIGKILL) // the old generation, its parent, reaps it
	if err := harness.Poll(5*time.Second, func() bool { return !proc.Alive(next) }); err != nil {
		t.Fatalf("fakenext %d survived SIGKILL: %v", next, err)
	}
	waitExit0(t, d.first, 10*time.Second)
	checkIdleDrained(t, d, idle)
}

// checkIdleDrained checks that every idle connection was closed by the
// server and that none of pids holds its server end.
func checkIdleDrained(t *testing.T, d *demoProc, idle []*rawConn, pids ...int) {
	t.Helper()
	for i, rc := range idle {
		if err := rc.waitEOF(5 * time.Second); err != nil {
			t.Errorf("idle connection %d (port %d): %v", i, rc.port(), err)
		}
		if h := holder(d.addr, rc, pids...); h != 0 {
			t.Errorf("idle connection %d (port %d): pid %d still holds its server end", i, rc.port(), h)
		}
	}
}
