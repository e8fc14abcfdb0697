//go:build linux

package e2e

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/proc"
	"github.com/handoff-go/handoff/internal/testutil"
)

// TestCLIStopDrainsEveryGeneration: with generation 1 still draining a slow
// request and generation 2 serving another, `handoff stop` must let both
// finish, return only once both processes are gone, and exit 0. Generation
// 1 goes first (generation 2 serves meanwhile), so that the serving one is
// never reaped by a parent still alive (under systemd, systemd must see
// its main pid exit).
func TestCLIStopDrainsEveryGeneration(t *testing.T) {
	d := startDemo(t)
	gen1 := d.first
	slow1 := make(chan string, 1)
	go func() { slow1 <- slowGet(d.addr, 1500) }()
	waitInFlight(t, d, gen1, 1)
	gen2 := d.upgradeBySignalNoWait(t, gen1)
	slow2 := make(chan string, 1)
	go func() { slow2 <- slowGet(d.addr, 1000) }()
	waitInFlight(t, d, gen2, 1)

	res := handoffCLI(t, procOpts{}, "stop", "-control", d.control, "-timeout", "20s")
	if res.code != 0 {
		t.Fatalf("stop: exit %d\n%s\nwant exit 0", res.code, res.output)
	}
	g1, g2 := strconv.Itoa(gen1), strconv.Itoa(gen2)
	wantInOrder(t, res.output, "waiting for draining pids "+g1+" first; pid "+g2+" serves meanwhile",
		"pid "+g1+" exited", "stopping pid "+g2+" (generation 2)", "pid "+g2+" stopped accepting and is draining",
		"pid "+g2+" exited", "stopped: no generation is left")
	for _, pid := range []int{gen1, gen2} {
		// stop returned: both must be gone already (a zombie at most), not just going.
		if proc.Alive(pid) {
			t.Errorf("pid %d still runs after stop returned", pid)
		}
	}
	if rec := waitGone(t, gen1, 5*time.Second); !rec.OK() { // generation 2 was gen1's child: gen1 reaped it
		t.Errorf("generation 1 (pid %d): %v; want exit status 0", gen1, rec)
	}
	if got := <-slow1; got != g1 {
		t.Errorf("slow request on generation 1: got %q; want answered by pid %d", got, gen1)
	}
	if got := <-slow2; got != g2 {
		t.Errorf("slow request on generation 2: got %q; want answered by pid %d", got, gen2)
	}
	if _, err := os.Stat(d.control); !os.IsNotExist(err) {
		t.Errorf("control socket %s after stop: %v; want it removed", d.control, err)
	}
}

// TestCLIStopTimeout: a request longer than -timeout keeps the serving
// generation alive; stop exits 1 and names it. A second stop finishes.
func TestCLIStopTimeout(t *testing.T) {
	d := startDemo(t)
	slow := make(chan string, 1)
	go func() { slow <- slowGet(d.addr, 2000) }()
	waitInFlight(t, d, d.first, 1)
	res := handoffCLI(t, procOpts{}, "stop", "-control", d.control, "-timeout", "300ms")
	pid := strconv.Itoa(d.first)
	if res.code != 1 || !strings.Contains(res.output, "still running after 300ms: pid "+pid+" (generation 1, serving)") {
		t.Fatalf("stop: exit %d\n%s\nwant exit 1 naming pid %s as still running", res.code, res.output, pid)
	}
	if got := <-slow; got != pid {
		t.Errorf("slow request: got %q; want answered by pid %s", got, pid)
	}
	if rec := waitGone(t, d.first, 10*time.Second); !rec.OK() {
		t.Errorf("pid %s: %v; want exit status 0", pid, rec)
	}
}

// TestCLIStopNothingServes: a stale socket (the server died) means there
// is nothing to stop: exit 0, as systemd's ExecStop needs after a crash;
// a missing socket is more likely a wrong path: exit 1.
func TestCLIStopNothingServes(t *testing.T) {
	dir := testutil.ShortDir(t)
	stale := dir + "/stale.sock"
	makeStaleSocket(t, stale)
	if res := handoffCLI(t, procOpts{}, "stop", "-control", stale); res.code != 0 || !strings.Contains(res.output, "nothing to stop") {
		t.Errorf("stop on a stale socket: exit %d\n%s\nwant exit 0, nothing to stop", res.code, res.output)
	}
	if res := handoffCLI(t, procOpts{}, "stop", "-control", dir+"/none.sock"); res.code != 1 || !strings.Contains(res.output, "no control socket") {
		t.Errorf("stop on a missing socket: exit %d\n%s\nwant exit 1, no control socket", res.code, res.output)
	}
	if res := handoffCLI(t, procOpts{}, "stop", "-control", stale, "-timeout", "x"); res.code != 2 {
		t.Errorf("stop with a bad -timeout: exit %d\n%s\nwant exit 2", res.code, res.output)
	}
}
