//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/handoff-go/handoff/control"
	"github.com/handoff-go/handoff/e2e/internal/harness"
	"github.com/handoff-go/handoff/e2e/internal/proc"
	"github.com/handoff-go/handoff/internal/testutil"
	"golang.org/x/sys/unix"
)

// cliResult is what one run of the handoff CLI printed, and how it ended.
type cliResult struct {
	code   int
	output string // stdout and stderr, interleaved as written
}

// handoffCLI runs the handoff binary with args and waits for it.
func handoffCLI(t *testing.T, o procOpts, args ...string) cliResult {
	t.Helper()
	if bins.handoff == "" {
		t.Skip("cmd/handoff not built")
	}
	out := filepath.Join(t.TempDir(), "cli.out")
	o.newGroup = true
	pid := startProc(t, bins.handoff, args, out, o)
	rec := waitGone(t, pid, 60*time.Second)
	b, _ := os.ReadFile(out)
	if !rec.Status.Exited() {
		t.Fatalf("handoff %v: %v\n%s", args, rec, b)
	}
	return cliResult{code: rec.Status.ExitStatus(), output: string(b)}
}

func TestCLIStatusAndUpgrade(t *testing.T) {
	d := startDemo(t)
	st := handoffCLI(t, procOpts{}, "status", "-control", d.control)
	if st.code != 0 || !strings.Contains(st.output, "pid "+strconv.Itoa(d.first)+": serving") {
		t.Fatalf("status: exit %d\n%s\nwant exit 0 naming pid %d as serving", st.code, st.output, d.first)
	}
	js := handoffCLI(t, procOpts{}, "status", "-json", "-control", d.control)
	var parsed control.Status
	if err := json.Unmarshal([]byte(js.output), &parsed); err != nil || parsed.PID != d.first || len(parsed.Listeners) != 2 {
		t.Fatalf("status -json: %v: %+v\n%s\nwant pid %d with 2 listeners", err, parsed, js.output, d.first)
	}

	up := handoffCLI(t, procOpts{}, "upgrade", "-control", d.control)
	m := regexp.MustCompile(`upgraded: pid (\d+) serves`).FindStringSubmatch(up.output)
	if up.code != 0 || m == nil {
		t.Fatalf("upgrade: exit %d\n%s\nwant exit 0 and the new pid", up.code, up.output)
	}
	next, _ := strconv.Atoi(m[1])
	wantInOrder(t, up.output, "new process started: pid "+m[1], "handed over", "pid "+m[1]+" is ready",
		"pid "+strconv.Itoa(d.first)+" stopped accepting", "upgraded: pid "+m[1], "old pid "+strconv.Itoa(d.first)+" exited")
	d.waitServes(t, next)
	if pid := d.pid(t); pid != next {
		t.Errorf("pid file: got %d; want %d", pid, next)
	}
}

// wantInOrder checks that every line of want appears in out, in order.
func wantInOrder(t *testing.T, out string, want ...string) {
	t.Helper()
	rest := out
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("output lacks %q (after the earlier steps):\n%s", w, out)
		}
		rest = rest[i+len(w):]
	}
}

func TestCLIUpgradeToBrokenBinary(t *testing.T) {
	d := startDemo(t)
	deploy(t, bins.broken, d.exe)
	up := handoffCLI(t, procOpts{}, "upgrade", "-control", d.control)
	if up.code != 1 || !strings.Contains(up.output, "exit status 3") ||
		!strings.Contains(up.output, "pid "+strconv.Itoa(d.first)+" keeps serving") {
		t.Fatalf("upgrade to a broken binary: exit %d\n%s\nwant exit 1 saying it exited with status 3 and the old pid serves",
			up.code, up.output)
	}
	d.waitServes(t, d.first)
}

func TestCLIUpgradeInProgress(t *testing.T) {
	d := startDemo(t, "-upgrade-timeout", "2s")
	deploy(t, bins.stall, d.exe)
	first := make(chan cliResult, 1)
	go func() { first <- handoffCLIAsync(d.control) }()
	if err := harness.Poll(10*time.Second, func() bool { return strings.Contains(d.log(), "new process started") }); err != nil {
		t.Fatalf("first upgrade did not start:\n%s", d.log())
	}
	second := handoffCLI(t, procOpts{}, "upgrade", "-control", d.control)
	if second.code != 1 || !strings.Contains(second.output, "already in progress") {
		t.Fatalf("second upgrade: exit %d\n%s\nwant exit 1: an upgrade is already in progress", second.code, second.output)
	}
	res := <-first
	if res.code != 1 || !strings.Contains(res.output, "not ready in time") {
		t.Fatalf("stalled upgrade: exit %d\n%s\nwant exit 1: not ready in time", res.code, res.output)
	}
	d.waitServes(t, d.first)
}

// handoffCLIAsync is handoffCLI for a goroutine: it reports failures in
// its result instead of failing the test.
func handoffCLIAsync(control string) cliResult {
	dir, err := os.MkdirTemp("", "cli")
	if err != nil {
		return cliResult{code: -1, output: err.Error()}
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "out")
	f, _ := os.Create(out)
	defer f.Close()
	pid, err := syscall.ForkExec(bins.handoff, []string{"handoff", "upgrade", "-control", control},
		&syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, f.Fd(), f.Fd()}})
	if err != nil {
		return cliResult{code: -1, output: err.Error()}
	}
	var rec proc.Exit
	harness.Poll(60*time.Second, func() bool { var ok bool; rec, ok = reaper.Exited(pid); return ok })
	b, _ := os.ReadFile(out)
	return cliResult{code: rec.Status.ExitStatus(), output: string(b)}
}

func TestCLIErrors(t *testing.T) {
	dir := testutil.ShortDir(t)
	stale := filepath.Join(dir, "stale.sock")
	testutil.StaleSocket(t, stale)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing socket", []string{"status", "-control", filepath.Join(dir, "none.sock")}, 1, "no control socket at"},
		{"stale socket", []string{"upgrade", "-control", stale}, 1, "nobody answers"},
		{"path too long", []string{"status", "-control", dir + "/" + strings.Repeat("x", 120)}, 1, "a Unix socket path may have at most 107 on linux"},
		{"unknown command", []string{"restart"}, 2, `unknown command "restart"`},
		{"no control path", []string{"status"}, 2, "give -control PATH"},
		{"bad flag", []string{"upgrade", "-bogus"}, 2, "flag provided but not defined: -bogus"},
		{"help", []string{"help"}, 0, "handoff upgrade"},
		{"-h", []string{"-h"}, 0, "handoff status"},
		{"upgrade -h", []string{"upgrade", "-h"}, 0, "usage: handoff upgrade"},
		{"help status", []string{"help", "status"}, 0, "usage: handoff status"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := handoffCLI(t, procOpts{env: []string{"HANDOFF_CONTROL="}}, tc.args...)
			if res.code != tc.code || !strings.Contains(res.output, tc.want) {
				t.Errorf("handoff %v: exit %d\n%s\nwant exit %d and %q", tc.args, res.code, res.output, tc.code, tc.want)
			}
		})
	}
}

func TestTakeoverUnderLoad(t *testing.T) {
	d := startDemo(t)
	run := loadStart(d.addr, 32)
	defer run.Stop()
	waitRequests(t, run, 200)
	second := startProc(t, d.exe, d.args(), d.logPath, procOpts{newGroup: true})
	if got := d.waitPID(t, func(p int) bool { return p != d.first }); got != second {
		t.Fatalf("pid file after the takeover: got %d; want the second process %d", got, second)
	}
	if rec := waitGone(t, d.first, 15*time.Second); !rec.Status.Exited() || rec.Status.ExitStatus() != 0 {
		t.Fatalf("first process ended with %v; want exit status 0", rec)
	}
	waitRequests(t, run, 200)
	if res := run.Stop(); res.Failed != 0 || res.PIDs[strconv.Itoa(second)] == 0 {
		t.Fatalf("across the takeover: %s; want no failure and answers from pid %d", res.Summary(), second)
	}
	if !strings.Contains(d.log(), "mode=takeover") {
		t.Errorf("second process did not log a takeover:\n%s", d.log())
	}
}

func TestControlRefusesOtherUID(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the client as nobody")
	}
	d := startDemo(t)
	// Open the path to everyone so that only the server's own uid check
	// stands between nobody and the control socket.
	for _, p := range []string{bins.dir, d.dir} {
		os.Chmod(p, 0o755)
	}
	os.Chmod(d.control, 0o666)
	res := handoffCLI(t, procOpts{cred: &syscall.Credential{Uid: 65534, Gid: 65534}}, "status", "-control", d.control)
	if res.code != 1 || !strings.Contains(res.output, "permission denied") || !strings.Contains(res.output, "uid 65534") {
		t.Fatalf("status as nobody: exit %d\n%s\nwant exit 1: permission denied for uid 65534", res.code, res.output)
	}
	if !strings.Contains(d.log(), "control connection refused") {
		t.Errorf("server did not log the refusal:\n%s", d.log())
	}
}

func TestFinalStopLeavesNoFiles(t *testing.T) {
	d := startDemo(t)
	syscall.Kill(d.first, syscall.SIGTERM)
	if rec := waitGone(t, d.first, 15*time.Second); !rec.Status.Exited() || rec.Status.ExitStatus() != 0 {
		t.Fatalf("SIGTERM: %v; want exit status 0", rec)
	}
	for _, p := range []string{d.control, d.pidFile} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s after the final stop: %v; want it removed", p, err)
		}
	}
}

// TestCLIUpgradeNoAnswerOutOfFDs: a server out of file descriptors cannot
// accept the control connection, but the kernel queues it and the
// request. `handoff upgrade` must not call that a failure and leave the
// server to upgrade once it has fds again: it withdraws the request,
// exits 3 saying nothing was done, and the server, reading the request
// later, drops it and keeps serving.
func TestCLIUpgradeNoAnswerOutOfFDs(t *testing.T) {
	d := startDemo(t)
	restore := exhaustFDs(t, d.first, d.addr)
	up := handoffCLI(t, procOpts{}, "upgrade", "-control", d.control, "-timeout", "30s")
	if up.code != 3 || !strings.Contains(up.output, "no answer from the server on "+d.control+" within 5s") ||
		!strings.Contains(up.output, "nothing was done") {
		t.Errorf("upgrade of a server out of fds: exit %d\n%s\nwant exit 3: no answer within 5s, nothing was done", up.code, up.output)
	}
	restore()
	if err := harness.Poll(10*time.Second, func() bool { return strings.Contains(d.log(), "control request dropped") }); err != nil {
		t.Fatalf("server did not drop the withdrawn request once it had fds again:\n%s", d.log())
	}
	st := handoffCLI(t, procOpts{}, "status", "-json", "-control", d.control)
	var parsed control.Status
	if err := json.Unmarshal([]byte(st.output), &parsed); err != nil || parsed.PID != d.first || parsed.LastUpgrade != nil {
		t.Fatalf("status after: %v: %+v\nwant pid %d serving, no upgrade tried", err, parsed, d.first)
	}
	d.waitServes(t, d.first)
}

// exhaustFDs lowers pid's RLIMIT_NOFILE to its lowest free fd number, so
// that its next accept fails with EMFILE, and returns what puts the limit
// back (also run at cleanup). It first waits until pid holds no connection
// on addr: a connection of the test's that the server closes a moment
// later would free a number below the limit, and the accept would succeed.
func exhaustFDs(t *testing.T, pid int, addr string) (restore func()) {
	t.Helper()
	if err := harness.Poll(10*time.Second, func() bool { return harness.Established(pid, addr) == 0 }); err != nil {
		t.Fatalf("pid %d still holds %d connections on %s: %v", pid, harness.Established(pid, addr), addr, err)
	}
	var old unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &old); err != nil {
		t.Skipf("prlimit: %v", err)
	}
	used := map[int]bool{}
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, e := range ents {
		n, _ := strconv.Atoi(e.Name())
		used[n] = true
	}
	free := 0
	for used[free] {
		free++
	}
	lim := unix.Rlimit{Cur: uint64(free), Max: old.Max}
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &lim, nil); err != nil {
		t.Skipf("prlimit: %v", err)
	}
	var once sync.Once
	restore = func() { once.Do(func() { unix.Prlimit(pid, unix.RLIMIT_NOFILE, &old, nil) }) }
	t.Cleanup(restore)
	return restore
}

// TestCLIUsageAndVersion: -h lists every flag with its default and the
// exit statuses; a bad flag prints the usage once; a bare handoff is a
// usage error; version names the Go toolchain.
func TestCLIUsageAndVersion(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
		once string
	}{
		{name: "bare", code: 2, want: []string{"usage:", "handoff stop"}},
		{name: "upgrade -h", args: []string{"upgrade", "-h"}, code: 0,
			want: []string{"-timeout D", "(default 2m0s)", "-wait D", "(default 1m0s)", "exit status:"}},
		{name: "stop -h", args: []string{"stop", "-h"}, code: 0, want: []string{"-timeout D", "(default 1m0s)", "nothing served"}},
		{name: "status -h", args: []string{"status", "-h"}, code: 0, want: []string{"-control PATH", "-json"}},
		{name: "bad flag", args: []string{"stop", "-bogus"}, code: 2, want: []string{"-bogus", "-timeout D"}, once: "usage: handoff stop"},
		{name: "version", args: []string{"version"}, code: 0, want: []string{"handoff ", runtime.Version()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := handoffCLI(t, procOpts{env: []string{"HANDOFF_CONTROL="}}, tc.args...)
			ok := res.code == tc.code && (tc.once == "" || strings.Count(res.output, tc.once) == 1)
			for _, w := range tc.want {
				ok = ok && strings.Contains(res.output, w)
			}
			if !ok {
				t.Errorf("handoff %v: exit %d\n%s\nwant exit %d with %q (and %q once)", tc.args, res.code, res.output, tc.code, tc.want, tc.once)
			}
		})
	}
}
