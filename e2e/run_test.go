//go:build linux

package e2e

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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

// runExamples are the two example servers `handoff run` supervises.
func runExamples(t *testing.T) map[string]func(*testing.T) []string {
	return map[string]func(*testing.T) []string{
		"python": pythonServer,
		"go":     func(*testing.T) []string { buildRunBins(t); return []string{runBins.goserver} },
	}
}

// TestRunZeroLossUnderLoad upgrades each example 20 times under `handoff
// run` while 32 clients that never retry send requests: no request may
// fail, a new child must serve after each upgrade, every old child must
// drain and exit 0, and SIGTERM must then end everything with status 0.
func TestRunZeroLossUnderLoad(t *testing.T) {
	for _, name := range []string{"python", "go"} {
		for _, mode := range []load.Mode{load.KeepAlive, load.NewConn} {
			t.Run(name+"/"+string(mode), func(t *testing.T) {
				r := startRun(t, runExamples(t)[name](t))
				run := load.Start(load.Config{Addr: r.addr, Clients: 32, Mode: mode, MaxDuration: time.Minute})
				defer run.Stop()
				child := r.serving(t)
				for range 20 {
					waitRequests(t, run, 50)
					child = r.upgradeBySignal(t, child)
				}
				waitRequests(t, run, 50)
				res := run.Stop()
				if res.Failed != 0 || res.PIDs[strconv.Itoa(child)] == 0 {
					t.Fatalf("%s/%s: %s; want no failed request and answers from the last child %d", name, mode, res.Summary(), child)
				}
				checkChildrenExitedOK(t, r)
				if rec := r.stop(t, r.pid); !rec.OK() {
					t.Fatalf("supervisor after SIGTERM: %v; want exit status 0\n%s", rec, harness.Tail(r.log(), 30))
				}
				checkNoChildLeft(t, r)
				t.Logf("%s/%s: 20 upgrades, %s", name, mode, res.Summary())
			})
		}
	}
}

// checkChildrenExitedOK: every child the supervisor retired exited 0 (the
// supervisor logs how each ended).
func checkChildrenExitedOK(t *testing.T, r *runProc) {
	t.Helper()
	for _, line := range strings.Split(r.log(), "\n") {
		if strings.Contains(line, `msg="child exited"`) && !strings.Contains(line, `how="exit status 0"`) {
			t.Errorf("a child did not drain cleanly: %s", line)
		}
	}
}

func checkNoChildLeft(t *testing.T, r *runProc) {
	t.Helper()
	for _, pid := range r.childrenStarted() {
		if proc.Alive(pid) {
			t.Errorf("child %d still runs after its supervisor exited", pid)
		}
	}
}

// TestRunBadChildren deploys three bad builds in turn: one that exits at
// start, one that never becomes ready, one that crashes just after it
// said ready. Each upgrade must fail with exit 1 and the reason, the
// failed child must be gone, and the old child must keep serving; a good
// build then upgrades as usual.
func TestRunBadChildren(t *testing.T) {
	buildRunBins(t)
	dir := testutil.ShortDir(t)
	app := filepath.Join(dir, "app")
	deploy(t, runBins.goserver, app)
	r := startRun(t, []string{app}, "-upgrade-timeout", "2s")
	old := r.serving(t)
	tests := []struct {
		name string
		bin  string
		want []string
	}{
		{"exits at start", bins.broken, []string{"exited before it was ready (exit status 3)"}},
		{"never ready", bins.stall, []string{"not ready in time"}},
		{"crashes after ready", runBins.readycrash, []string{"after it was ready (exit status 4)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			deploy(t, tc.bin, app)
			up := handoffCLI(t, procOpts{}, "upgrade", "-control", r.control)
			want := append(tc.want, "pid "+strconv.Itoa(old)+" keeps serving")
			for _, w := range want {
				if up.code != 1 || !strings.Contains(up.output, w) {
					t.Fatalf("upgrade to a build that %s: exit %d\n%s\nwant exit 1 and %q", tc.name, up.code, up.output, w)
				}
			}
			if got := r.serving(t); got != old {
				t.Fatalf("serving child after the failed upgrade: %d; want the old %d", got, old)
			}
			r.waitServes(t, old)
			for _, pid := range r.childrenStarted() {
				if pid != old && proc.Alive(pid) {
					t.Fatalf("failed child %d still runs", pid)
				}
			}
		})
	}
	deploy(t, runBins.goserver, app)
	up := handoffCLI(t, procOpts{}, "upgrade", "-control", r.control)
	if up.code != 0 {
		t.Fatalf("upgrade to a good build after the bad ones: exit %d\n%s", up.code, up.output)
	}
	next := r.serving(t)
	wantInOrder(t, up.output, "new process started: pid "+strconv.Itoa(next), "pid "+strconv.Itoa(next)+" is ready",
		"pid "+strconv.Itoa(old)+" stopped accepting", "upgraded: pid "+strconv.Itoa(next)+" serves", "old pid "+strconv.Itoa(old)+" exited")
	st := handoffCLI(t, procOpts{}, "status", "-control", r.control)
	if !strings.Contains(st.output, "child: pid "+strconv.Itoa(next)+" serving") || !strings.Contains(st.output, "fd 3: http") {
		t.Errorf("status: exit %d\n%s\nwant the serving child %d and fd 3: http", st.code, st.output, next)
	}
}

// TestRunStopDrains: SIGTERM to the supervisor lets a request in flight
// finish on the serving child, then it exits 0 and leaves no file behind.
func TestRunStopDrains(t *testing.T) {
	for _, name := range []string{"python", "go"} {
		t.Run(name, func(t *testing.T) {
			r := startRun(t, runExamples(t)[name](t))
			child := r.serving(t)
			notifyDir := childNotifyDir(child)
			slow := make(chan string, 1)
			go func() { slow <- slowGet(r.addr, 1000) }()
			waitInFlight(t, &demoProc{addr: r.addr}, child, 1)
			rec := r.stop(t, r.pid)
			if got := <-slow; got != strconv.Itoa(child) {
				t.Errorf("request in flight at SIGTERM: got %q; want answered by child %d", got, child)
			}
			if !rec.OK() {
				t.Fatalf("supervisor after SIGTERM: %v; want exit status 0\n%s", rec, r.log())
			}
			if !strings.Contains(r.log(), "child="+strconv.Itoa(child)+` how="exit status 0"`) {
				t.Errorf("child %d did not exit 0:\n%s", child, r.log())
			}
			for _, p := range []string{r.control, r.pidFile, notifyDir} {
				if _, err := os.Stat(p); p == "" || !os.IsNotExist(err) {
					t.Errorf("%q after the stop: %v; want it removed", p, err)
				}
			}
		})
	}
}

// TestRunStopKillsAStuckChild: a child that ignores the stop signal is
// killed after -drain-timeout, and the supervisor says so and exits 1.
func TestRunStopKillsAStuckChild(t *testing.T) {
	// stall never says READY=1 and, being Go, ignores SIGURG (23).
	r := newRun(t, []string{bins.stall}, "-ready-after", "50ms", "-stop-signal", "23", "-drain-timeout", "300ms")
	r.noHTTP = true
	r.start(t)
	rec := r.stop(t, r.pid)
	if !rec.Status.Exited() || rec.Status.ExitStatus() != 1 || !strings.Contains(r.log(), "had to SIGKILL") {
		t.Fatalf("supervisor with a stuck child: %v; want exit status 1 saying it had to SIGKILL\n%s", rec, r.log())
	}
	checkNoChildLeft(t, r)
}

// TestRunSupervisorUpgradeUnderLoad starts a new `handoff run` with the
// same control socket, three times, under load: each takes the sockets
// over, starts its own child, and only then does the previous supervisor
// stop its child and exit 0. No request may fail.
func TestRunSupervisorUpgradeUnderLoad(t *testing.T) {
	buildRunBins(t)
	r := startRun(t, []string{runBins.goserver})
	sup, child := r.pid, r.serving(t)
	run := loadStart(r.addr, 32)
	defer run.Stop()
	for range 3 {
		waitRequests(t, run, 200)
		next := r.start(t)
		if rec := waitGone(t, sup, 20*time.Second); !rec.OK() {
			t.Fatalf("supervisor %d ended with %v; want exit status 0\n%s", sup, rec, r.log())
		}
		if proc.Alive(child) {
			t.Fatalf("supervisor %d's child %d outlived it", sup, child)
		}
		sup, child = next, r.serving(t)
	}
	waitRequests(t, run, 200)
	res := run.Stop()
	if res.Failed != 0 || res.PIDs[strconv.Itoa(child)] == 0 {
		t.Fatalf("across 3 supervisor upgrades: %s; want no failure and answers from child %d", res.Summary(), child)
	}
	if n := strings.Count(r.log(), "mode=takeover inherited="); n != 3 {
		t.Errorf("%d supervisors logged a takeover; want 3:\n%s", n, r.log())
	}
	t.Logf("3 supervisor upgrades: %s", res.Summary())
}

// TestRunFDCountFlat upgrades 100 times: once quiet, the supervisor must
// hold as many fds as it did, quiet, after the first few.
func TestRunFDCountFlat(t *testing.T) {
	buildRunBins(t)
	r := startRun(t, []string{runBins.goserver}, "-settle", "10ms")
	child := r.serving(t)
	var before int
	for i := range 100 {
		if i == 5 {
			before = quietFDs(t, r.pid, -1)
		}
		child = r.upgradeBySignal(t, child)
	}
	quietFDs(t, r.pid, before) // fails the test if the count does not come back
}

// TestRunBadInput: what `handoff run` refuses before it starts anything:
// exit 2 and a message naming the problem.
func TestRunBadInput(t *testing.T) {
	buildRunBins(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free := "http=tcp://" + freeAddr(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no network", []string{"-listen", "http=127.0.0.1:80", "--", runBins.goserver}, "want NETWORK://ADDR"},
		{"no name", []string{"-listen", "tcp://127.0.0.1:80", "--", runBins.goserver}, "not NAME=NETWORK://ADDR"},
		{"unknown network", []string{"-listen", "http=sctp://127.0.0.1:80", "--", runBins.goserver}, `unknown network "sctp"`},
		{"bad port", []string{"-listen", "http=tcp://127.0.0.1:http", "--", runBins.goserver}, `bad port "http"`},
		{"name twice", []string{"-listen", free, "-listen", "http=tcp://127.0.0.1:0", "--", runBins.goserver}, `name "http" given twice`},
		{"no program", []string{"-listen", free}, "no PROGRAM"},
		{"program missing", []string{"-listen", free, "--", "/nonexistent/server"}, `PROGRAM "/nonexistent/server"`},
		{"address in use", []string{"-listen", "http=tcp://" + busy.Addr().String(), "--", runBins.goserver}, "address already in use"},
		{"bad stop signal", []string{"-stop-signal", "NOPE", "-listen", free, "--", runBins.goserver}, `unknown signal "NOPE"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := handoffCLI(t, procOpts{}, append([]string{"run"}, tc.args...)...)
			if res.code != 2 || !strings.Contains(res.output, tc.want) || strings.Contains(res.output, "child started") {
				t.Errorf("handoff run %v: exit %d\n%s\nwant exit 2 with %q before any child starts", tc.args, res.code, res.output, tc.want)
			}
		})
	}
}

// TestRunUpgradeWhileChildrenDrain: an upgrade may start while older
// children still drain slow requests, up to -max-draining; past it, it is
// refused with the reason. Every slow request is answered by the child
// that accepted it.
func TestRunUpgradeWhileChildrenDrain(t *testing.T) {
	buildRunBins(t)
	r := startRun(t, []string{runBins.goserver}, "-max-draining", "2")
	slow := make(chan [2]string, 2)
	hold := func(child int) {
		go func() { slow <- [2]string{strconv.Itoa(child), slowGet(r.addr, 3000)} }()
		waitInFlight(t, &demoProc{addr: r.addr}, child, 1)
	}
	gen1 := r.serving(t)
	hold(gen1)
	gen2 := r.upgradeBySignalNoWait(t, gen1)
	hold(gen2)
	gen3 := r.upgradeBySignalNoWait(t, gen2) // gen 1 still drains: allowed, 1 of 2
	up := handoffCLI(t, procOpts{}, "upgrade", "-control", r.control)
	if up.code != 1 || !strings.Contains(up.output, "too many generations still draining: 2 of 2 allowed") {
		t.Fatalf("upgrade while 2 children drain: exit %d\n%s\nwant exit 1: too many draining", up.code, up.output)
	}
	for range 2 {
		if got := <-slow; got[0] != got[1] {
			t.Errorf("slow request accepted by child %s: answered by %q", got[0], got[1])
		}
	}
	if got := r.serving(t); got != gen3 {
		t.Fatalf("serving: %d; want %d", got, gen3)
	}
}

// upgradeBySignalNoWait is upgradeBySignal without waiting for the old
// child to finish draining.
func (r *runProc) upgradeBySignalNoWait(t *testing.T, old int) int {
	t.Helper()
	syscall.Kill(r.pid, syscall.SIGHUP)
	var next int
	if err := harness.Poll(15*time.Second, func() bool { next = r.serving(t); return next != old }); err != nil {
		t.Fatalf("no new child after SIGHUP; still %d\n%s", old, harness.Tail(r.log(), 40))
	}
	r.waitServes(t, next)
	return next
}

// TestRunNotifiesSystemd runs the supervisor with a NOTIFY_SOCKET of the
// test's own: READY=1 once the first child is ready, the child's STATUS=
// passed on, RELOADING=1 and READY=1 around an upgrade, STATUS= and
// READY=1 for a failed one, STOPPING=1 at the stop, and never MAINPID.
func TestRunNotifiesSystemd(t *testing.T) {
	buildRunBins(t)
	dir := testutil.ShortDir(t)
	sock := filepath.Join(dir, "notify")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	app := filepath.Join(dir, "app")
	deploy(t, runBins.goserver, app)
	r := newRun(t, []string{app}, "-upgrade-timeout", "2s")
	r.env = []string{"NOTIFY_SOCKET=" + sock}
	r.start(t)
	expectNotify(t, nc, "STATUS=serving", "READY=1")
	r.upgradeBySignal(t, r.serving(t))
	expectNotify(t, nc, "RELOADING=1\nMONOTONIC_USEC=", "STATUS=serving", "READY=1")
	deploy(t, bins.broken, app)
	handoffCLI(t, procOpts{}, "upgrade", "-control", r.control)
	expectNotify(t, nc, "RELOADING=1", "STATUS=upgrade failed: ", "READY=1")
	if rec := r.stop(t, r.pid); !rec.OK() {
		t.Fatalf("supervisor after SIGTERM: %v; want exit status 0", rec)
	}
	expectNotify(t, nc, "STOPPING=1")
}

// expectNotify reads datagrams until each of want has been seen, in
// order (several may share one datagram); a MAINPID= anywhere fails the
// test.
func expectNotify(t *testing.T, nc *net.UnixConn, want ...string) {
	t.Helper()
	buf := make([]byte, 4096)
	var seen []string
	for len(want) > 0 {
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := nc.Read(buf)
		if err != nil {
			t.Fatalf("waiting for %q after %q: %v", want, seen, err)
		}
		msg := string(buf[:n])
		seen = append(seen, msg)
		if strings.Contains(msg, "MAINPID=") {
			t.Fatalf("supervisor sent %q: MAINPID must not move", msg)
		}
		for len(want) > 0 {
			i := strings.Index(msg, want[0])
			if i < 0 {
				break
			}
			msg, want = msg[i+len(want[0]):], want[1:]
		}
	}
}

// TestRunFirstChildFails: when the first child exits before it is ready,
// the supervisor exits 1 with its exit status and leaves nothing behind.
func TestRunFirstChildFails(t *testing.T) {
	buildRunBins(t)
	dir := testutil.ShortDir(t)
	control := filepath.Join(dir, "ctl.sock")
	res := handoffCLI(t, procOpts{}, "run", "-listen", "http=tcp://"+freeAddr(t), "-control", control, "--", bins.broken)
	if res.code != 1 || !strings.Contains(res.output, "first child") || !strings.Contains(res.output, "exit status 3") {
		t.Fatalf("handoff run of a program that exits at once: exit %d\n%s\nwant exit 1 naming exit status 3", res.code, res.output)
	}
	if _, err := os.Stat(control); !os.IsNotExist(err) {
		t.Errorf("control socket after the failed start: %v; want it removed", err)
	}
}

// TestRunServingChildDies: a serving child that dies unasked ends the
// supervisor with exit 1 and the reason (systemd's Restart= takes over).
func TestRunServingChildDies(t *testing.T) {
	buildRunBins(t)
	r := startRun(t, []string{runBins.goserver})
	child := r.serving(t)
	syscall.Kill(child, syscall.SIGKILL)
	rec := waitGone(t, r.pid, 20*time.Second)
	want := "serving child " + strconv.Itoa(child) + " exited on its own (signal: killed)"
	if !rec.Status.Exited() || rec.Status.ExitStatus() != 1 || !strings.Contains(r.log(), want) {
		t.Fatalf("supervisor after its child was killed: %v; want exit status 1 and %q\n%s", rec, want, r.log())
	}
}

// TestRunSocketActivation: started the systemd way with a socket and no
// -listen, the supervisor passes that very socket on to its child, under
// its systemd name, and upgrades keep it.
func TestRunSocketActivation(t *testing.T) {
	buildRunBins(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	ln.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := newRun(t, []string{runBins.goserver})
	r.addr = ln.Addr().String()
	r.args = []string{"run", "-control", r.control, "-pid-file", r.pidFile, "--", runBins.goserver}
	pid := startProc(t, bins.handoff, r.args, r.logPath, procOpts{newGroup: true, files: []*os.File{f}, viaShell: true,
		env: []string{"LISTEN_FDS=1", "LISTEN_FDNAMES=web"}})
	t.Cleanup(func() { stopGracefully(pid) })
	r.pid = pid
	child := r.serving(t)
	r.waitServes(t, child)
	st, err := r.status()
	if err != nil || strings.Join(st.Run.FDs, ",") != "web" {
		t.Fatalf("status: fds %v, %v; want the systemd socket named web", st.Run.FDs, err)
	}
	r.upgradeBySignal(t, child)
}

// TestRunStopsWholeGenerations: a child leaves behind a grandchild that
// shares the listening socket and ignores SIGTERM, in the child's process
// group or after setsid, tracked through a cgroup per generation or
// through /proc (-cgroup=false). The status lists the grandchild with its
// generation; after an upgrade every request is soon answered by the new
// generation and nothing of the old one is left; after the stop nothing
// is left and the port is closed.
func TestRunStopsWholeGenerations(t *testing.T) {
	buildRunBins(t)
	for _, fork := range []string{"group", "setsid"} {
		for _, cgroup := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/cgroup=%v", fork, cgroup), func(t *testing.T) {
				testStopsWholeGenerations(t, fork, cgroup)
			})
		}
	}
}

func testStopsWholeGenerations(t *testing.T, fork string, cgroup bool) {
	var supervisor int
	t.Cleanup(func() { removeRunGroups(t, supervisor) }) // last: once the supervisor is gone
	pidsFile := filepath.Join(testutil.ShortDir(t), "grandchildren")
	t.Cleanup(func() { killListed(pidsFile) })
	r := startRun(t, []string{runBins.runchild, "-fork", fork, "-pids", pidsFile},
		"-drain-timeout", "1s", "-cgroup="+strconv.FormatBool(cgroup))
	supervisor = r.pid
	old := r.serving(t)
	oldGen := r.generation(t, old, 2)
	if st, _ := r.status(); cgroup != strings.HasPrefix(st.Run.Tracking, "cgroup ") {
		t.Errorf("status says generations are tracked by %q; with -cgroup=%v", st.Run.Tracking, cgroup)
	}
	syscall.Kill(r.pid, syscall.SIGHUP)
	var next int
	if err := harness.Poll(15*time.Second, func() bool { next = r.serving(t); return next != old }); err != nil {
		t.Fatalf("no new child after SIGHUP\n%s", harness.Tail(r.log(), 30))
	}
	newGen := r.generation(t, next, 2)
	var answers []string
	err := harness.Poll(15*time.Second, func() bool {
		answers = answers[:0]
		for range 20 {
			answers = append(answers, getPID(r.addr))
		}
		return slices.IndexFunc(answers, func(a string) bool { return a != strconv.Itoa(next) }) < 0 &&
			len(liveOf(oldGen)) == 0
	})
	if err != nil {
		t.Fatalf("after the upgrade to %d: 20 requests answered by %q; old generation %v still has %v\n%s",
			next, answers, oldGen, liveOf(oldGen), harness.Tail(r.log(), 30))
	}
	if rec := r.stop(t, r.pid); !rec.Status.Exited() {
		t.Fatalf("supervisor after SIGTERM: %v; want an exit", rec)
	}
	if left := liveOf(newGen); len(left) > 0 {
		t.Errorf("after the supervisor exited, its last generation %v still has %v", newGen, left)
	}
	if c, err := net.DialTimeout("tcp", r.addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts after the supervisor exited", r.addr)
	}
	if !strings.Contains(r.log(), "had to SIGKILL") {
		t.Errorf("the supervisor does not say it had to SIGKILL the grandchild:\n%s", harness.Tail(r.log(), 20))
	}
}

// generation polls the status until child's generation lists want
// processes (the child among them), and returns them.
func (r *runProc) generation(t *testing.T, child, want int) []int {
	t.Helper()
	var procs []int
	err := harness.Poll(10*time.Second, func() bool {
		st, err := r.status()
		for _, c := range st.Run.Children {
			if c.PID == child {
				procs = c.Processes
			}
		}
		return err == nil && len(procs) == want && slices.Contains(procs, child)
	})
	if err != nil {
		t.Fatalf("status: child %d's generation is %v; want %d processes, the child among them", child, procs, want)
	}
	return procs
}

// liveOf lists those of pids that still run.
func liveOf(pids []int) []int {
	var live []int
	for _, pid := range pids {
		if proc.Alive(pid) {
			live = append(live, pid)
		}
	}
	return live
}

// killListed SIGKILLs the pids listed one a line in file (what a test's
// children started and might have left behind), and waits for them.
func killListed(file string) {
	b, _ := os.ReadFile(file)
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
			syscall.Kill(pid, syscall.SIGKILL)
			harness.Poll(5*time.Second, func() bool { return !proc.Alive(pid) })
		}
	}
}

// TestRunStatusFlood: a child that floods NOTIFY_SOCKET with STATUS=
// lines (READY=1 among them) must not flood the supervisor's log: it
// stays under 32 KiB for a 3 s flood, the status keeps answering, READY=1
// still counts, and the suppressed lines are summed up.
func TestRunStatusFlood(t *testing.T) {
	buildRunBins(t)
	const flood, bound = 3 * time.Second, 32 << 10
	r := newRun(t, []string{runBins.runchild, "-flood", flood.String()})
	started := time.Now()
	r.start(t) // returns once READY=1, sent mid-flood, made the child serve
	slowest := time.Duration(0)
	for time.Since(started) < flood {
		t0 := time.Now()
		if _, err := r.status(); err != nil {
			t.Fatalf("status during the flood: %v", err)
		}
		slowest = max(slowest, time.Since(t0))
	}
	if err := harness.Poll(15*time.Second, func() bool { return strings.Contains(r.log(), "sent ") }); err != nil {
		t.Fatalf("the child did not finish its flood\n%s", harness.Tail(r.log(), 10))
	}
	if err := harness.Poll(10*time.Second, func() bool { return strings.Contains(r.log(), `status="flood over after`) }); err != nil {
		t.Errorf("the last status line never reached the log\n%s", harness.Tail(r.log(), 10))
	}
	fi, err := os.Stat(r.logPath)
	if err != nil {
		t.Fatal(err)
	}
	sent := regexp.MustCompile(`sent (\d+) status lines`).FindStringSubmatch(r.log())
	if fi.Size() > bound || !strings.Contains(r.log(), "child status lines suppressed") {
		t.Fatalf("log after %s status lines in %v: %d bytes; want at most %d and a summary of what was suppressed\n%s",
			sent[1], flood, fi.Size(), bound, harness.Tail(r.log(), 20))
	}
	t.Logf("%s status lines in %v: log %d bytes; slowest status answer during the flood %v", sent[1], flood, fi.Size(), slowest)
}

// removeRunGroups kills and removes the cgroups that supervisor made for
// its generations, should it have died without: they sit in this test's
// own cgroup (the supervisor's), on a cgroup2 or a hybrid host.
func removeRunGroups(t *testing.T, supervisor int) {
	b, _ := os.ReadFile("/proc/self/cgroup")
	var rel string
	for _, line := range strings.Split(string(b), "\n") {
		if r, ok := strings.CutPrefix(line, "0::"); ok {
			rel = r
		}
	}
	if supervisor <= 0 || rel == "" {
		return
	}
	pattern := fmt.Sprintf("handoff-run.%d.*", supervisor)
	a, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", rel, pattern))
	u, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup/unified", rel, pattern))
	for _, dir := range append(a, u...) {
		os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0)
		err := harness.Poll(5*time.Second, func() bool {
			err := os.Remove(dir) // fails while killed processes still leave it
			return err == nil || errors.Is(err, os.ErrNotExist)
		})
		if err != nil {
			t.Errorf("cgroup %s left behind: %v", dir, err)
		}
	}
}
