//go:build linux

package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/harness"
	"github.com/handoff-go/handoff/e2e/internal/load"
	"github.com/handoff-go/handoff/e2e/internal/nspawn"
	"github.com/handoff-go/handoff/internal/testutil"
)

// The units in examples/systemd as shipped: they name /usr/local/bin,
// where the container binds the binaries this test binary built, and
// 127.0.0.1:8080, which the container shares with the host.
const (
	unitsDir    = "../examples/systemd"
	shippedAddr = "127.0.0.1:8080"
	demoUnit    = "demo.service"
)

// cgroupModes are the two layouts the container's systemd is booted with.
var cgroupModes = []struct {
	name    string
	unified bool
}{{"hybrid", false}, {"cgroup2", true}}

// TestSystemdUnits runs the shipped units under the host's real systemd,
// booted in a throwaway container, once on hybrid cgroups and once on
// cgroup2. Every case boots its own container.
func TestSystemdUnits(t *testing.T) {
	skipWithoutNspawn(t)
	for _, mode := range cgroupModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Run("socket-cold-start", func(t *testing.T) { testSocketColdStart(t, bootUnits(t, mode.unified)) })
			t.Run("reloads-under-load", func(t *testing.T) { testReloadsUnderLoad(t, bootUnits(t, mode.unified)) })
			t.Run("bad-deploy", func(t *testing.T) { testBadDeploy(t, bootUnits(t, mode.unified)) })
			t.Run("rollback", func(t *testing.T) { testRollback(t, bootUnits(t, mode.unified)) })
			t.Run("stop-after-reloads", func(t *testing.T) { testStopAfterReloads(t, bootUnits(t, mode.unified), false) })
			t.Run("stop-while-older-drains", func(t *testing.T) { testStopAfterReloads(t, bootUnits(t, mode.unified), true) })
			t.Run("kill-9-restart", func(t *testing.T) { testKill9Restart(t, bootUnits(t, mode.unified)) })
		})
	}
}

func skipWithoutNspawn(t *testing.T) {
	t.Helper()
	if err := nspawn.Available(); err != nil {
		t.Skipf("skipping the tests under a real systemd: %v", err)
	}
	if bins.handoff == "" {
		t.Skip("skipping the tests under a real systemd: cmd/handoff not built")
	}
}

// unitBox is one container with the shipped units and fresh binaries.
type unitBox struct {
	m    *nspawn.Machine
	bin  string // bound at /usr/local/bin: deploy into it
	addr string // where demo.socket listens
}

var machines atomic.Int64

// bootUnits boots a container with the shipped units and this build's
// demo and handoff. Only the port is ever substituted, and only when
// 127.0.0.1:8080 is taken on this host (the test says so).
func bootUnits(t *testing.T, unified bool) *unitBox {
	t.Helper()
	dir := testutil.ShortDir(t)
	b := &unitBox{bin: filepath.Join(dir, "bin"), addr: shippedAddr}
	units, share := filepath.Join(dir, "units"), filepath.Join(dir, "share")
	for _, d := range []string{b.bin, units, share} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := claimShippedAddr(t); err != nil {
		b.addr = freeAddr(t)
		t.Logf("%s is taken on this host (%v): the units listen on %s instead", shippedAddr, err, b.addr)
	}
	installUnits(t, units, shippedAddr, b.addr)
	deploy(t, bins.demo, filepath.Join(b.bin, "demo"))
	deploy(t, bins.handoff, filepath.Join(b.bin, "handoff"))
	if err := os.Mkdir(filepath.Join(share, "handoff"), 0o755); err != nil {
		t.Fatal(err)
	}
	deploy(t, "../examples/run/server.py", filepath.Join(share, "handoff", "server.py")) // for demo-run.service

	start := time.Now()
	m, err := nspawn.Boot(nspawn.Config{Name: fmt.Sprintf("handoff-%d-%d", os.Getpid(), machines.Add(1)),
		Dir: dir, Units: units, Bin: b.bin, Share: share, Unified: unified, Reaper: reaper})
	if err != nil {
		t.Fatal(err)
	}
	b.m = m
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, unit := range []string{demoUnit, runUnit} {
			if j := m.Journal(unit); strings.TrimSpace(j) != "" {
				t.Logf("journal of %s:\n%s", unit, harness.Tail(j, 80))
			}
		}
	})
	if len(m.Degraded) > 0 {
		t.Logf("booted degraded; failed units: %v", m.Degraded)
	}
	t.Logf("booted systemd (cgroup2=%v) in %v", unified, time.Since(start).Round(time.Millisecond))
	return b
}

// claimShippedAddr makes 127.0.0.1:8080 this test's until it ends, or
// says why it cannot be. The containers share the host's network, and a
// second test binary (a second `go test ./...` beside this one) boots its
// own: seeing the port free is not enough, since the other one may have
// seen it free too and its container bind it first, and then one
// demo.socket fails or one test's clients reach the other's server. An
// abstract Unix socket named after the port is the claim: only one
// process can hold it, and it goes with the process, leaving no file.
func claimShippedAddr(t *testing.T) error {
	t.Helper()
	claim, err := net.Listen("unix", "@handoff-e2e-"+shippedAddr)
	if err != nil {
		return fmt.Errorf("another test binary's container uses it: %w", err)
	}
	ln, err := net.Listen("tcp", shippedAddr)
	if err != nil {
		claim.Close()
		return err
	}
	ln.Close()
	// Cleanups run last first: this one after the container's Close.
	t.Cleanup(func() { claim.Close() })
	return nil
}

// installUnits copies the shipped units into dir, with addr for from.
func installUnits(t *testing.T, dir, from, addr string) {
	t.Helper()
	ents, err := os.ReadDir(unitsDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(unitsDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(b), from, addr)
		if err := os.WriteFile(filepath.Join(dir, e.Name()), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// systemctl runs systemctl in the container and returns its output and
// exit code; only failing to run it at all fails the test.
func (b *unitBox) systemctl(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, code, err := b.m.Systemctl(args...)
	if err != nil {
		t.Fatalf("systemctl %v: %v\n%s", args, err, out)
	}
	return out, code
}

func (b *unitBox) mustSystemctl(t *testing.T, args ...string) {
	t.Helper()
	if out, code := b.systemctl(t, args...); code != 0 {
		t.Fatalf("systemctl %v: exit %d\n%s", args, code, out)
	}
}

// show returns demo.service's properties.
func (b *unitBox) show(t *testing.T, props ...string) map[string]string {
	t.Helper()
	v, err := b.m.Show(demoUnit, props...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// wantState checks ActiveState and SubState of demo.service.
func (b *unitBox) wantState(t *testing.T, step, active, sub string) map[string]string {
	t.Helper()
	v := b.show(t, "ActiveState", "SubState", "MainPID", "NRestarts", "Result", "StatusText")
	if v["ActiveState"] != active || v["SubState"] != sub {
		t.Fatalf("%s: %s is %s/%s (result %s); want %s/%s", step, demoUnit, v["ActiveState"], v["SubState"],
			v["Result"], active, sub)
	}
	return v
}

// activate starts demo.socket and lets the first request start the
// service, returning the pid that answered it (the container's pid).
func (b *unitBox) activate(t *testing.T) int {
	t.Helper()
	b.mustSystemctl(t, "start", "demo.socket")
	var got string
	if err := harness.Poll(20*time.Second, func() bool { got = getPID(b.addr); _, err := strconv.Atoi(got); return err == nil }); err != nil {
		t.Fatalf("first request through demo.socket: X-Pid %q (%v)", got, err)
	}
	pid, _ := strconv.Atoi(got)
	// The demo answers before systemd has read its READY=1: until then the
	// start job runs, and a reload requested meanwhile would be merged
	// into it and do nothing.
	var v map[string]string
	started := func() bool {
		v = b.show(t, "ActiveState", "SubState", "MainPID")
		return v["ActiveState"] == "active" && v["SubState"] == "running" && v["MainPID"] == got
	}
	if err := harness.Poll(20*time.Second, started); err != nil {
		t.Fatalf("after the first request (answered by pid %d): %v; want active/running on that MainPID (%v)", pid, v, err)
	}
	return pid
}

// reload runs `systemctl reload demo` and returns its exit code and
// output.
func (b *unitBox) reload(t *testing.T) (int, string) {
	t.Helper()
	out, code := b.systemctl(t, "reload", demoUnit)
	return code, out
}

// reloadOK reloads, expecting success and a new MainPID, and returns it.
func (b *unitBox) reloadOK(t *testing.T, step string, old int) int {
	t.Helper()
	if code, out := b.reload(t); code != 0 {
		t.Fatalf("%s: systemctl reload: exit %d\n%s", step, code, out)
	}
	v := b.wantState(t, step, "active", "running")
	pid, _ := strconv.Atoi(v["MainPID"])
	if pid == 0 || pid == old {
		t.Fatalf("%s: MainPID %d after reload; want a new pid (was %d)", step, pid, old)
	}
	return pid
}

// transcript logs one step of a run in a form the README and the issue
// note quote.
func transcript(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Logf("transcript: "+format, args...)
}

func testSocketColdStart(t *testing.T, b *unitBox) {
	b.mustSystemctl(t, "start", "demo.socket")
	if v := b.show(t, "ActiveState"); v["ActiveState"] != "inactive" {
		t.Fatalf("before the first request: %s is %s; want inactive (socket activation starts it)", demoUnit, v["ActiveState"])
	}
	pid := b.activate(t)
	v := b.wantState(t, "cold start", "active", "running")
	if v["MainPID"] != strconv.Itoa(pid) || v["NRestarts"] != "0" {
		t.Fatalf("cold start: MainPID %s NRestarts %s; want %d (the pid that answered) and 0", v["MainPID"], v["NRestarts"], pid)
	}
	if j := b.m.Journal(demoUnit); !strings.Contains(j, "mode=cold inherited=1") {
		t.Fatalf("the demo did not take its socket from systemd (no 'mode=cold inherited=1'):\n%s", j)
	}
	transcript(t, "cold start through demo.socket: MainPID %d answered the first request", pid)
}

func testReloadsUnderLoad(t *testing.T, b *unitBox) {
	pid := b.activate(t)
	run := loadStart(b.addr, 32)
	defer run.Stop()
	watch := watchUnitState(b.m)
	defer watch.stop()
	first := pid
	for i := 1; i <= 10; i++ {
		waitRequests(t, run, 50)
		next := b.reloadOK(t, fmt.Sprintf("reload %d", i), pid)
		transcript(t, "reload %d: exit 0, MainPID %d -> %d", i, pid, next)
		pid = next
	}
	waitRequests(t, run, 50)
	res := run.Stop()
	bad := watch.stop()
	if res.Failed != 0 || res.OK == 0 {
		t.Fatalf("10 reloads: %s; want no failed request", res.Summary())
	}
	if len(bad) > 0 {
		t.Fatalf("during the reloads %s was seen in %v; want active throughout", demoUnit, bad)
	}
	if v := b.wantState(t, "after 10 reloads", "active", "running"); v["NRestarts"] != "0" {
		t.Fatalf("after 10 reloads: NRestarts %s; want 0", v["NRestarts"])
	}
	if res.PIDs[strconv.Itoa(pid)] == 0 {
		t.Errorf("the last MainPID %d answered no request (%s)", pid, res.Summary())
	}
	transcript(t, "10 reloads (MainPID %d -> %d) under 32 non-retrying clients: %d requests, %d lost; NRestarts=0",
		first, pid, res.OK+res.Failed, res.Failed)
}

// stateWatch samples the unit's ActiveState while a test runs: every
// sample must be active (or reloading, while a reload runs).
type stateWatch struct {
	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once
	bad  map[string]int
}

func watchUnitState(m *nspawn.Machine) *stateWatch {
	w := &stateWatch{done: make(chan struct{}), bad: map[string]int{}}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			select {
			case <-w.done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			v, err := m.Show(demoUnit, "ActiveState", "SubState")
			state := v["ActiveState"] + "/" + v["SubState"]
			if err != nil {
				state = err.Error()
			}
			if state != "active/running" && state != "reloading/reload" {
				w.bad[state]++
			}
		}
	}()
	return w
}

// stop ends the sampling and returns the states seen that were not
// active, with how often.
func (w *stateWatch) stop() map[string]int {
	w.once.Do(func() { close(w.done) })
	w.wg.Wait()
	return w.bad
}

func testBadDeploy(t *testing.T, b *unitBox) {
	pid := b.activate(t)
	run := loadStart(b.addr, 32)
	defer run.Stop()
	waitRequests(t, run, 50)
	exe := filepath.Join(b.bin, "demo")
	code, st := b.reloadFails(t, "a broken build", bins.broken, pid)
	if !strings.Contains(st, "upgrade failed") || !strings.Contains(st, "exit status 3") {
		t.Fatalf("after the failed reload: StatusText %q; want the cause (upgrade failed ... exit status 3)", st)
	}
	transcript(t, "bad deploy: systemctl reload exit %d, MainPID stays %d, StatusText %q", code, pid, st)
	waitRequests(t, run, 50)
	deploy(t, bins.demo, exe)
	next := b.reloadOK(t, "reload after the good build is back", pid)
	waitRequests(t, run, 50)
	res := run.Stop()
	if res.Failed != 0 {
		t.Fatalf("bad deploy and recovery: %s; want no failed request", res.Summary())
	}
	st = b.show(t, "StatusText")["StatusText"]
	if want := fmt.Sprintf("serving: pid %d", next); !strings.HasPrefix(st, want) {
		t.Errorf("after the good reload: StatusText %q; want it to start %q, not the old failure", st, want)
	}
	transcript(t, "good build back: systemctl reload exit 0, MainPID %d -> %d, StatusText %q; %d requests, %d lost",
		pid, next, st, res.OK+res.Failed, res.Failed)
}

// reloadFails deploys build (what) and reloads: the reload must fail and
// the unit stay active with MainPID pid. It returns the reload's exit code
// and the StatusText.
func (b *unitBox) reloadFails(t *testing.T, what, build string, pid int) (int, string) {
	t.Helper()
	deploy(t, build, filepath.Join(b.bin, "demo"))
	code, out := b.reload(t)
	if code == 0 {
		t.Fatalf("reload of %s: exit 0; want non-zero\n%s", what, out)
	}
	v := b.wantState(t, "after the reload of "+what, "active", "running")
	if v["MainPID"] != strconv.Itoa(pid) {
		t.Fatalf("after the reload of %s: MainPID %s; want still %d", what, v["MainPID"], pid)
	}
	return code, v["StatusText"]
}

// testRollback reloads to a build that dies a second after it said
// READY=1, under 32 clients that never retry: systemctl reload must fail,
// the unit stay active with the old MainPID and a StatusText saying it
// rolled back, no connection be refused, and only requests in flight on
// the dead process fail; then a good build reloads as usual.
func testRollback(t *testing.T, b *unitBox) {
	const clients = 32
	pid := b.activate(t)
	run := load.Start(load.Config{Addr: b.addr, Clients: clients, Mode: load.NewConn, MaxDuration: 2 * time.Minute})
	defer run.Stop()
	waitRequests(t, run, 50)
	exe := filepath.Join(b.bin, "demo")
	code, st := b.reloadFails(t, "a build that dies after ready", bins.diesAfterReady, pid)
	if !strings.HasPrefix(st, "rolled back: new pid") || !strings.Contains(st, "died (exit status 3)") {
		t.Fatalf("after the rolled-back reload: StatusText %q; want rolled back: new pid ... died (exit status 3)", st)
	}
	transcript(t, "rollback: systemctl reload exit %d, MainPID stays %d, StatusText %q", code, pid, st)
	waitRequests(t, run, 50)
	deploy(t, bins.demo, exe)
	b.reloadOK(t, "reload after the good build is back", pid)
	waitRequests(t, run, 50)
	res := run.Stop()
	if res.Errors["refused"] != 0 || res.Failed > clients {
		t.Fatalf("rollback and recovery: %s; want no refused connection and at most %d failed (in flight on the dead process)",
			res.Summary(), clients)
	}
	transcript(t, "rollback and recovery: %d requests, %d failed (%v)", res.OK+res.Failed, res.Failed, res.Errors)
}

// testStopAfterReloads stops the service after reloads while the serving
// generation holds a slow request and, withDraining, an older generation
// still drains another: each must be answered by the process it went to,
// and systemd must find nothing left to kill.
func testStopAfterReloads(t *testing.T, b *unitBox, withDraining bool) {
	pid := b.activate(t)
	for i := 1; i <= 3; i++ {
		pid = b.reloadOK(t, fmt.Sprintf("reload %d", i), pid)
	}
	older := 0
	slowOld := make(<-chan string)
	if withDraining {
		older = pid
		slowOld = b.slowInFlight(t, older, 3000)
		pid = b.reloadOK(t, "reload 4", pid)
	}
	slowNew := b.slowInFlight(t, pid, 1500)

	t0 := time.Now()
	out, code := b.systemctl(t, "stop", demoUnit)
	took := time.Since(t0)
	if code != 0 {
		t.Fatalf("systemctl stop: exit %d\n%s", code, out)
	}
	gotNew, gotOld := <-slowNew, "none"
	if gotNew != strconv.Itoa(pid) {
		t.Errorf("slow request to the serving MainPID %d at stop: got %q; want answered by it", pid, gotNew)
	}
	if withDraining {
		if gotOld = <-slowOld; gotOld != strconv.Itoa(older) {
			t.Errorf("slow request to the draining pid %d at stop: got %q; want answered by it", older, gotOld)
		}
	}
	v := b.show(t, "ActiveState", "SubState", "Result")
	if v["ActiveState"] != "inactive" || v["Result"] != "success" {
		t.Errorf("after stop: %s is %s/%s, result %s; want inactive/dead, result success", demoUnit, v["ActiveState"], v["SubState"], v["Result"])
	}
	journal := b.m.Journal(demoUnit)
	for _, bad := range []string{"SIGKILL", "remains running after unit stopped", "Failed with result"} {
		if strings.Contains(journal, bad) {
			t.Errorf("journal says %q:\n%s", bad, harness.Tail(journal, 30))
		}
	}
	if left := b.cgroupProcs(t); left != "" {
		t.Errorf("after stop: processes left in the unit's cgroup: %s", left)
	}
	if _, code, _ := b.m.Run(10*time.Second, "test", "-e", "/run/demo/control.sock"); code == 0 {
		t.Errorf("after stop: /run/demo/control.sock still exists")
	}
	lost := 0
	for _, got := range []string{gotNew, gotOld} {
		if strings.HasPrefix(got, "error") || strings.HasPrefix(got, "status") {
			lost++
		}
	}
	if withDraining {
		transcript(t, "stop after 4 reloads: slow requests in flight on MainPID %d and on draining pid %d", pid, older)
	} else {
		transcript(t, "stop after 3 reloads: a slow request in flight on MainPID %d", pid)
	}
	for _, line := range execStopLines(journal) {
		transcript(t, "  ExecStop: %s", line)
	}
	transcript(t, "systemctl stop: exit %d in %v; answered by %s (serving) and %s (draining); %d lost; %s/%s, result %s",
		code, took.Round(time.Millisecond), gotNew, gotOld, lost, v["ActiveState"], v["SubState"], v["Result"])
	if t.Failed() {
		t.Logf("systemctl stop output:\n%s", out)
	}
}

// execStopLines returns what `handoff stop` printed in the journal, after
// the unit began stopping.
func execStopLines(journal string) []string {
	_, after, _ := strings.Cut(journal, "Stopping "+demoUnit)
	var lines []string
	for _, line := range strings.Split(after, "\n") {
		if _, msg, ok := strings.Cut(line, " handoff["); ok {
			if _, text, ok := strings.Cut(msg, "]: "); ok {
				lines = append(lines, text)
			}
		}
	}
	return lines
}

// slowInFlight sends a slow request and waits until the process with
// container pid pid holds its connection; the answer's X-Pid (or error)
// arrives on the channel.
func (b *unitBox) slowInFlight(t *testing.T, pid, ms int) <-chan string {
	t.Helper()
	host := b.m.HostPID(pid)
	if host == 0 {
		t.Fatalf("container pid %d: not found on the host", pid)
	}
	before := harness.Established(host, b.addr)
	ch := make(chan string, 1)
	go func() { ch <- slowGet(b.addr, ms) }()
	var got int
	if err := harness.Poll(10*time.Second, func() bool { got = harness.Established(host, b.addr); return got > before }); err != nil {
		t.Fatalf("slow request to pid %d (host pid %d): not in flight (%d connections): %v", pid, host, got, err)
	}
	return ch
}

// cgroupProcs lists what is left in demo.service's cgroups in every
// hierarchy the container has, or "".
func (b *unitBox) cgroupProcs(t *testing.T) string {
	t.Helper()
	script := `for f in $(find /sys/fs/cgroup -path '*/system.slice/demo.service*' -name cgroup.procs); do sed "s|^|$f: |" "$f"; done`
	out, code, err := b.m.Run(10*time.Second, "sh", "-c", script)
	if err != nil || code != 0 {
		t.Fatalf("list the unit's cgroups: exit %d %v\n%s", code, err, out)
	}
	return strings.TrimSpace(out)
}

func testKill9Restart(t *testing.T, b *unitBox) {
	pid := b.activate(t)
	pid = b.reloadOK(t, "reload before the kill", pid) // MainPID is now no child of systemd
	run := loadStart(b.addr, 32)
	defer run.Stop()
	waitRequests(t, run, 50)
	if out, code, err := b.m.Run(10*time.Second, "kill", "-9", strconv.Itoa(pid)); err != nil || code != 0 {
		t.Fatalf("kill -9 %d: exit %d %v\n%s", pid, code, err, out)
	}
	var v map[string]string
	restarted := func() bool {
		v = b.show(t, "ActiveState", "SubState", "MainPID", "NRestarts")
		return v["NRestarts"] == "1" && v["ActiveState"] == "active" && v["SubState"] == "running" &&
			v["MainPID"] != "0" && v["MainPID"] != strconv.Itoa(pid)
	}
	if err := harness.Poll(30*time.Second, restarted); err != nil {
		t.Fatalf("after kill -9 of MainPID %d: %v; want active/running on a new MainPID with NRestarts=1 (%v)", pid, v, err)
	}
	waitRequests(t, run, 200)
	res := run.Stop()
	if res.Errors["refused"] != 0 {
		t.Errorf("while the service restarted: %s; want no refused connection (systemd holds the socket)", res.Summary())
	}
	if res.PIDs[v["MainPID"]] == 0 {
		t.Errorf("restarted MainPID %s answered no request (%s)", v["MainPID"], res.Summary())
	}
	transcript(t, "kill -9 of MainPID %d: restarted as MainPID %s (NRestarts=1); clients: %s; 0 refused",
		pid, v["MainPID"], res.Summary())
}

// TestSystemdNotifyReloadUnit runs demo-notify-reload.service, which needs
// systemd 253 or later.
func TestSystemdNotifyReloadUnit(t *testing.T) {
	skipWithoutNspawn(t)
	if v, line := systemdVersion(t); v < 253 {
		t.Skipf("skipping demo-notify-reload.service: Type=notify-reload needs systemd 253; this host has %s", line)
	}
	for _, mode := range cgroupModes {
		t.Run(mode.name, func(t *testing.T) {
			b := bootUnits(t, mode.unified)
			b.mustSystemctl(t, "start", "demo-notify-reload.service")
			pid := 0
			for i := 1; i <= 3; i++ {
				if out, code := b.systemctl(t, "reload", "demo-notify-reload.service"); code != 0 {
					t.Fatalf("reload %d: exit %d\n%s", i, code, out)
				}
				v, err := b.m.Show("demo-notify-reload.service", "MainPID", "ActiveState")
				if err != nil || v["ActiveState"] != "active" || v["MainPID"] == strconv.Itoa(pid) {
					t.Fatalf("reload %d: %v %v; want active on a new MainPID (was %d)", i, v, err, pid)
				}
				pid, _ = strconv.Atoi(v["MainPID"])
			}
			b.mustSystemctl(t, "stop", "demo-notify-reload.service")
			if v, err := b.m.Show("demo-notify-reload.service", "ActiveState", "Result"); err != nil || v["ActiveState"] != "inactive" || v["Result"] != "success" {
				t.Fatalf("after stop: %v %v; want inactive, result success", v, err)
			}
		})
	}
}

func systemdVersion(t *testing.T) (int, string) {
	t.Helper()
	v, line, err := nspawn.Version(reaper)
	if err != nil {
		t.Fatal(err)
	}
	return v, line
}
