//go:build linux

package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/harness"
	"github.com/handoff-go/handoff/e2e/internal/proc"
	"github.com/handoff-go/handoff/internal/testutil"
)

// reaper collects every process the tests start, and every generation
// those start: the test binary is a child subreaper, so no test leaves a
// zombie and tests can assert how each generation ended.
var reaper *proc.Reaper

// bins holds the binaries TestMain builds once per test binary.
var bins struct {
	dir            string
	demo           string
	handoff        string
	broken         string // exits 3 at once: a bad deploy
	diesAfterReady string // the demo built to exit 3 one second after it is ready: a build that fails probation
	stall          string // never becomes ready: a hanging deploy
	oddcat         string // examples/oddcat
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		// Every test here starts real processes; the helper packages
		// under e2e/internal keep their own unit tests in -short.
		fmt.Println("e2e: -short: skipping the multi-process tests (run go test ./... for them)")
		return 0
	}
	// The fd counts the tests compare must be the servers' own.
	if err := harness.CloseInheritedOnExec(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "handoff-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := buildAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build:", err)
		return 1
	}
	r, err := proc.StartReaper()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer r.Stop()
	reaper = r
	return m.Run()
}

func buildAll(dir string) error {
	bins.dir = dir
	bins.demo = filepath.Join(dir, "demo")
	bins.handoff = filepath.Join(dir, "handoff")
	bins.broken = filepath.Join(dir, "broken")
	bins.diesAfterReady = filepath.Join(dir, "demo-dies-after-ready")
	bins.stall = filepath.Join(dir, "stall")
	bins.oddcat = filepath.Join(dir, "oddcat")
	// Every build happens here, before the reaper starts: once it runs,
	// exec.Cmd.Wait (inside the build) would race it.
	builds := []harness.Target{
		{Out: bins.demo, Pkg: "github.com/handoff-go/handoff/examples/demo"},
		{Out: bins.broken, Pkg: "github.com/handoff-go/handoff/e2e/internal/broken"},
		{Out: bins.diesAfterReady, Pkg: "github.com/handoff-go/handoff/examples/demo", Flags: harness.CrashAfterReady(time.Second)},
		{Out: bins.stall, Pkg: "github.com/handoff-go/handoff/e2e/internal/stall"},
		{Out: bins.oddcat, Pkg: "github.com/handoff-go/handoff/examples/oddcat"},
	}
	builds = append(builds, moveBuilds(dir)...)
	builds = append(builds, echoBuilds(dir)...)
	builds = append(builds, ansibleBuilds(dir)...)
	builds = append(builds, grpcBuilds(dir)...)
	if _, err := os.Stat("../cmd/handoff"); err == nil {
		builds = append(builds, harness.Target{Out: bins.handoff, Pkg: "github.com/handoff-go/handoff/cmd/handoff"})
		builds = append(builds, runBuilds(dir)...)
	}
	return harness.Build(context.Background(), builds...)
}

// demoProc is one demo deployment: a directory holding its executable,
// pid file, control socket and log, and the process group of its first
// generation (every later generation inherits it).
type demoProc struct {
	t       *testing.T
	dir     string
	exe     string // the deployed binary; tests may replace it
	pidFile string
	control string
	addr    string
	logPath string
	first   int      // pid of generation 1, also the process group id
	env     []string // added to the environment of the first generation
}

// startDemo deploys a copy of the demo binary into a fresh directory and
// starts it, waiting until it serves. Every process of the deployment is
// killed and reaped in t.Cleanup.
func startDemo(t *testing.T, extraArgs ...string) *demoProc {
	t.Helper()
	d := newDeployment(t)
	d.start(t, extraArgs...)
	return d
}

func newDeployment(t *testing.T) *demoProc {
	t.Helper()
	dir := testutil.ShortDir(t)
	d := &demoProc{t: t, dir: dir, exe: filepath.Join(dir, "demo"),
		pidFile: filepath.Join(dir, "demo.pid"), control: filepath.Join(dir, "demo.sock"),
		logPath: filepath.Join(dir, "demo.log")}
	deploy(t, bins.demo, d.exe)
	d.addr = freeAddr(t)
	return d
}

// testProbation is the demo's probation in the tests that do not set
// their own (a later -probation wins): short, so that twenty upgrades in
// a row stay quick, yet every upgrade goes through it.
const testProbation = "300ms"

func (d *demoProc) args(extra ...string) []string {
	return append([]string{"-listen", d.addr, "-pid-file", d.pidFile, "-control", d.control,
		"-upgrade-timeout", "10s", "-drain-timeout", "10s", "-probation", testProbation}, extra...)
}

func (d *demoProc) start(t *testing.T, extraArgs ...string) {
	t.Helper()
	p := startProc(t, d.exe, d.args(extraArgs...), d.logPath, procOpts{newGroup: true, env: d.env})
	d.first = p
	d.waitPID(t, func(pid int) bool { return pid == p })
	d.waitServes(t, p)
}

// deploy copies src to dst atomically, as a deploy tool would: the running
// binary's inode is untouched.
func deploy(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tmp := dst + ".new"
	if err := os.WriteFile(tmp, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

// procOpts are the optional parts of starting a process.
type procOpts struct {
	env      []string // added to the test's environment
	newGroup bool     // lead a new process group, killed whole in t.Cleanup
	cred     *syscall.Credential
	files    []*os.File // inherited as fd 3, 4, ...
	viaShell bool       // run as `sh -c 'LISTEN_PID=$$ exec "$0" "$@"'`, for socket activation
}

// startProc starts exe with its output appended to logPath and returns its
// pid; the reaper collects it.
func startProc(t *testing.T, exe string, args []string, logPath string, o procOpts) int {
	t.Helper()
	if o.viaShell {
		exe, args = "/bin/sh", append([]string{"-c", `LISTEN_PID=$$ exec "$0" "$@"`, exe}, args...)
	}
	pid, err := harness.Start(reaper, harness.Cmd{Path: exe, Args: args, Log: logPath, Env: o.env,
		Group: o.newGroup, Cred: o.cred, Files: o.files})
	if err != nil {
		t.Fatal(err)
	}
	if o.newGroup {
		t.Cleanup(func() { killGroup(t, pid, logPath) })
	}
	return pid
}

// killGroup kills every process in group pgid and waits until the reaper
// has collected them, so no test leaves a process behind.
func killGroup(t *testing.T, pgid int, logPath string) {
	if err := harness.KillGroup(pgid, 10*time.Second); err != nil {
		t.Error(err)
	}
	if t.Failed() {
		if b, err := os.ReadFile(logPath); err == nil {
			t.Logf("log of group %d:\n%s", pgid, harness.Tail(string(b), 60))
			if keep := os.Getenv("E2E_KEEP_LOGS"); keep != "" {
				os.WriteFile(filepath.Join(keep, fmt.Sprintf("group-%d.log", pgid)), b, 0o644)
			}
		}
	}
}

// waitPID polls the pid file until ok accepts its pid.
func (d *demoProc) waitPID(t *testing.T, ok func(int) bool) int {
	t.Helper()
	pid, err := harness.WaitPID(d.pidFile, 15*time.Second, ok)
	if err != nil {
		t.Fatal(err)
	}
	reaper.ForgetEarlier(pid) // a new generation: any record of that pid is an earlier process's
	return pid
}

func (d *demoProc) pid(t *testing.T) int {
	t.Helper()
	pid, ok := proc.ReadPID(d.pidFile)
	if !ok {
		t.Fatalf("no pid in %s", d.pidFile)
	}
	return pid
}

// waitServes polls GET / until pid answers it.
func (d *demoProc) waitServes(t *testing.T, pid int) {
	t.Helper()
	var got string
	err := harness.Poll(10*time.Second, func() bool {
		got = getPID(d.addr)
		return got == strconv.Itoa(pid)
	})
	if err != nil {
		t.Fatalf("GET / X-Pid: got %q; want %d (%v)", got, pid, err)
	}
}

// sighup sends SIGHUP to old and returns the new pid once the pid file
// names it.
func (d *demoProc) sighup(t *testing.T, old int) int {
	t.Helper()
	if err := syscall.Kill(old, syscall.SIGHUP); err != nil {
		t.Fatalf("SIGHUP %d: %v", old, err)
	}
	return d.waitPID(t, func(p int) bool { return p != old })
}

// upgradeBySignalNoWait upgrades old by SIGHUP and returns the new pid
// once it serves, without waiting for old to exit.
func (d *demoProc) upgradeBySignalNoWait(t *testing.T, old int) int {
	t.Helper()
	next := d.sighup(t, old)
	d.waitServes(t, next)
	return next
}

// upgradeBySignal is upgradeBySignalNoWait that also waits until old has
// exited 0.
func (d *demoProc) upgradeBySignal(t *testing.T, old int) int {
	t.Helper()
	next := d.upgradeBySignalNoWait(t, old)
	waitExit0(t, old, 15*time.Second)
	return next
}

// upgradeTo upgrades old by SIGHUP and returns the new pid once old has
// exited 0. Unlike upgradeBySignal it sends no request of its own: the
// moving tests count every connection and request.
func (d *demoProc) upgradeTo(t *testing.T, old int) int {
	t.Helper()
	next := d.sighup(t, old)
	waitExit0(t, old, 10*time.Second)
	return next
}

// waitExit0 waits until pid is gone and checks it exited 0.
func waitExit0(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	if rec := waitGone(t, pid, within); !rec.OK() {
		t.Fatalf("pid %d ended with %v; want exit status 0", pid, rec)
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

// getPID does one GET / on a fresh connection and returns X-Pid, or the
// error for a failure message.
func getPID(addr string) string {
	pid, err := harness.ServedBy(addr, 2*time.Second)
	if err != nil {
		return "error: " + err.Error()
	}
	return pid
}

// waitGone waits until pid no longer runs and the reaper has its status.
func waitGone(t *testing.T, pid int, within time.Duration) proc.Exit {
	t.Helper()
	rec, err := harness.WaitExit(reaper, pid, within)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func (d *demoProc) log() string {
	b, _ := os.ReadFile(d.logPath)
	return string(b)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := testutil.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}
