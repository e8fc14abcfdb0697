//go:build linux

package e2e

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/harness"
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
	// gen2 serves once it is ready, but gen1 accepts on the same socket
	// until it has its ReadyAck and closes its copy: a request sent before
	// then may be gen1's, and gen2 would never have one in flight.
	waitStopsAccepting(t, gen1, d.addr)
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

// waitStopsAccepting waits until pid holds no listening socket on addr's
// port: from then on, only the processes that still hold it accept.
func waitStopsAccepting(t *testing.T, pid int, addr string) {
	t.Helper()
	if err := harness.Poll(10*time.Second, func() bool { return !listening(pid, addr) }); err != nil {
		t.Fatalf("pid %d still listens on %s: %v", pid, addr, err)
	}
}

// listening reports whether pid holds a listening TCP socket on addr's
// port.
func listening(pid int, addr string) bool { return harness.Sockets(pid, addr, harness.TCPListen) > 0 }

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

// TestCLIStopNothingServes: no file at the path (the server stopped and
// removed it) or a stale socket (it died) means nothing to stop: exit 0,
// as systemd's ExecStop on a stopped service needs. A path that is no
// socket is a wrong -control, not a stopped service: exit 1 naming it.
func TestCLIStopNothingServes(t *testing.T) {
	dir := testutil.ShortDir(t)
	stale := dir + "/stale.sock"
	testutil.StaleSocket(t, stale)
	file := dir + "/file"
	os.WriteFile(file, nil, 0o600)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{name: "stale socket", args: []string{"-control", stale}, code: 0, want: "nothing to stop"},
		{name: "no file", args: []string{"-control", dir + "/none.sock"}, code: 0, want: "nothing to stop"},
		{name: "regular file", args: []string{"-control", file}, code: 1, want: file + " is a regular file, not a control socket"},
		{name: "directory", args: []string{"-control", dir}, code: 1, want: dir + " is a directory, not a control socket"},
		{name: "bad -timeout", args: []string{"-control", stale, "-timeout", "x"}, code: 2, want: "invalid value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := handoffCLI(t, procOpts{}, append([]string{"stop"}, tc.args...)...)
			if res.code != tc.code || !strings.Contains(res.output, tc.want) {
				t.Errorf("stop %v: exit %d\n%s\nwant exit %d saying %q", tc.args, res.code, res.output, tc.code, tc.want)
			}
		})
	}
}

// TestCLIStopTwice: a second stop after a clean one finds nothing to stop
// and says so, exit 0, as the first one did.
func TestCLIStopTwice(t *testing.T) {
	d := startDemo(t)
	for i, want := range []string{"stopped: no generation is left", "nothing to stop"} {
		res := handoffCLI(t, procOpts{}, "stop", "-control", d.control, "-timeout", "20s")
		if res.code != 0 || !strings.Contains(res.output, want) {
			t.Fatalf("stop #%d: exit %d\n%s\nwant exit 0 saying %q", i+1, res.code, res.output, want)
		}
	}
}

// TestDemoLogsWhyItExits: the demo says why it stops serving, as
// Upgrader.ExitReason tells it: "handed over" when SIGHUP's upgrade hands
// its sockets on, "stop requested" when `handoff stop` asks, never the one
// for the other.
func TestDemoLogsWhyItExits(t *testing.T) {
	d := startDemo(t)
	gen1 := d.first
	gen2 := d.upgradeBySignal(t, gen1)
	checkDrainLine(t, d, gen1, `msg="handed over; draining" pid=`+strconv.Itoa(gen1), "reason=handed-over")

	res := handoffCLI(t, procOpts{}, "stop", "-control", d.control, "-timeout", "20s")
	if res.code != 0 {
		t.Fatalf("stop: exit %d\n%s\nwant exit 0", res.code, res.output)
	}
	waitGone(t, gen2, 15*time.Second)
	checkDrainLine(t, d, gen2, `msg="stop requested over the control socket; draining" pid=`+strconv.Itoa(gen2),
		"reason=stop-requested")
}

// checkDrainLine finds the line where pid says why it drains and checks
// it holds every one of want.
func checkDrainLine(t *testing.T, d *demoProc, pid int, want ...string) {
	t.Helper()
	var line string
	for _, l := range strings.Split(d.log(), "\n") {
		if strings.Contains(l, "pid="+strconv.Itoa(pid)+" ") && strings.Contains(l, `; draining"`) {
			line = l
			break
		}
	}
	if line == "" {
		t.Fatalf("pid %d logged no line saying why it drains:\n%s", pid, d.log())
	}
	for _, w := range want {
		if !strings.Contains(line, w) {
			t.Errorf("pid %d's drain line: got %q; want it to hold %q", pid, line, w)
		}
	}
}
