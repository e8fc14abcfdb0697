//go:build linux

package e2e

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/handoff-go/handoff/control"
	"github.com/handoff-go/handoff/e2e/internal/harness"
	"github.com/handoff-go/handoff/e2e/internal/proc"
	"github.com/handoff-go/handoff/internal/testutil"
	"github.com/handoff-go/handoff/internal/wire"
)

// runBins are the extra binaries and tools the `handoff run` tests need.
// TestMain builds and finds them with the rest, before the reaper starts:
// once it runs, exec.Cmd.Wait races it for every child.
var runBins struct {
	goserver   string // examples/run/goserver
	readycrash string // says READY=1, then exits 4
	diesready  string // says READY=1, then exits 3 a second later
	runchild   string // leaves a grandchild behind, or floods NOTIFY_SOCKET
	python     string // a python3 that runs, for examples/run/server.py
	pythonErr  error
}

// runBuilds adds the run tests' binaries to TestMain's builds and checks
// python3, which takes running it.
func runBuilds(dir string) []harness.Target {
	runBins.goserver = filepath.Join(dir, "goserver")
	runBins.readycrash = filepath.Join(dir, "readycrash")
	runBins.diesready = filepath.Join(dir, "diesafterready")
	runBins.runchild = filepath.Join(dir, "runchild")
	path, err := exec.LookPath("python3")
	if err == nil {
		err = exec.Command(path, "-c", "pass").Run()
	}
	runBins.python, runBins.pythonErr = path, err
	return []harness.Target{
		{Out: runBins.goserver, Pkg: "github.com/handoff-go/handoff/examples/run/goserver"},
		{Out: runBins.readycrash, Pkg: "github.com/handoff-go/handoff/e2e/internal/readycrash"},
		{Out: runBins.diesready, Pkg: "github.com/handoff-go/handoff/e2e/internal/diesafterready"},
		{Out: runBins.runchild, Pkg: "github.com/handoff-go/handoff/e2e/internal/runchild"},
	}
}

func buildRunBins(t *testing.T) {
	t.Helper()
	if bins.handoff == "" {
		t.Skip("cmd/handoff not built")
	}
}

// python3 returns the interpreter for examples/run/server.py, or skips.
func python3(t *testing.T) string {
	t.Helper()
	if runBins.pythonErr != nil {
		t.Skipf("skipping: no working python3 for examples/run/server.py: %v", runBins.pythonErr)
	}
	return runBins.python
}

// pythonServer is the command line of the Python example.
func pythonServer(t *testing.T) []string {
	abs, err := filepath.Abs("../examples/run/server.py")
	if err != nil {
		t.Fatal(err)
	}
	return []string{python3(t), abs}
}

// runProc is one `handoff run` supervisor under test.
type runProc struct {
	t       *testing.T
	dir     string
	addr    string
	control string
	pidFile string
	logPath string
	args    []string // everything after "handoff"
	pid     int      // the supervisor (first started), leader of its group
	noHTTP  bool     // the program serves nothing: do not wait for answers
	env     []string // added to the supervisor's environment
}

// newRun prepares a supervisor of program with its own directory and
// address; extra flags go before the "--". Probation is off unless extra
// says otherwise (a later flag wins): most tests upgrade many times and
// are about what happens before it.
func newRun(t *testing.T, program []string, extra ...string) *runProc {
	t.Helper()
	buildRunBins(t)
	dir := testutil.ShortDir(t)
	r := &runProc{t: t, dir: dir, addr: freeAddr(t), control: filepath.Join(dir, "ctl.sock"),
		pidFile: filepath.Join(dir, "run.pid"), logPath: filepath.Join(dir, "run.log")}
	r.args = append([]string{"run", "-listen", "http=tcp://" + r.addr, "-control", r.control,
		"-pid-file", r.pidFile, "-upgrade-timeout", "10s", "-drain-timeout", "10s", "-probation", "0"}, extra...)
	r.args = append(append(r.args, "--"), program...)
	t.Cleanup(r.killChildren) // registered first, so it runs after the groups are killed
	return r
}

// start starts one supervisor (the first, or a second one that takes
// over) and returns its pid once its pid file names it and it serves.
func (r *runProc) start(t *testing.T) int {
	t.Helper()
	pid := startProc(t, bins.handoff, r.args, r.logPath, procOpts{newGroup: true, env: r.env})
	t.Cleanup(func() { stopGracefully(pid) }) // runs before startProc's SIGKILL of the group
	if r.pid == 0 {
		r.pid = pid
	}
	var last int
	if err := harness.Poll(20*time.Second, func() bool { last, _ = proc.ReadPID(r.pidFile); return last == pid }); err != nil {
		t.Fatalf("pid file %s: %d; want supervisor %d (%v)\n%s", r.pidFile, last, pid, err, r.log())
	}
	child := r.serving(t)
	if !r.noHTTP {
		r.waitServes(t, child)
	}
	return pid
}

// stopGracefully asks a supervisor that a test left running to stop, so
// that it stops its children and removes its notify socket's directory;
// whatever is left after a deadline is killed by the cleanups after it.
func stopGracefully(pid int) {
	if len(proc.GroupMembers(pid)) == 0 {
		return
	}
	syscall.Kill(pid, syscall.SIGTERM)
	harness.Poll(15*time.Second, func() bool { return len(proc.GroupMembers(pid)) == 0 })
}

// startRun starts a supervisor of program and waits until its child serves.
func startRun(t *testing.T, program []string, extra ...string) *runProc {
	t.Helper()
	r := newRun(t, program, extra...)
	r.start(t)
	return r
}

// killChildren kills every child any supervisor of r ever started (each
// leads its own group) and waits until they are gone.
func (r *runProc) killChildren() {
	for _, pid := range r.childrenStarted() {
		if proc.RunsInGroup(pid, pid) {
			syscall.Kill(-pid, syscall.SIGKILL)
		}
		if err := harness.Poll(10*time.Second, func() bool { return len(proc.GroupMembers(pid)) == 0 }); err != nil {
			r.t.Errorf("child group %d outlived SIGKILL", pid)
		}
	}
}

var childStarted = regexp.MustCompile(`msg="child started" pid=\d+ child=(\d+)`)

func (r *runProc) childrenStarted() []int {
	var pids []int
	for _, m := range childStarted.FindAllStringSubmatch(r.log(), -1) {
		pid, _ := strconv.Atoi(m[1])
		pids = append(pids, pid)
	}
	return pids
}

func (r *runProc) log() string {
	b, _ := os.ReadFile(r.logPath)
	return string(b)
}

// runStatus is a supervisor's status with its detail decoded.
type runStatus struct {
	control.Status
	Run struct {
		Program  []string `json:"program"`
		FDs      []string `json:"fds"`
		Tracking string   `json:"tracking"`
		Children []struct {
			PID       int    `json:"pid"`
			State     string `json:"state"`
			Processes []int  `json:"processes"`
		} `json:"children"`
	}
}

// status asks the control socket; an error means nobody answered.
func (r *runProc) status() (runStatus, error) {
	var st runStatus
	raw, err := net.DialTimeout("unix", r.control, 2*time.Second)
	if err != nil {
		return st, err
	}
	c := wire.NewConn(raw.(*net.UnixConn))
	defer c.Close()
	if err := c.Send(wire.TypeRequest, wire.Request{Op: wire.OpStatus}); err != nil {
		return st, err
	}
	if err := c.Expect(wire.TypeStatus, &st.Status); err != nil {
		return st, err
	}
	return st, json.Unmarshal(st.Detail, &st.Run)
}

// serving returns the pid of the serving child, polling until there is
// one and no upgrade runs.
func (r *runProc) serving(t *testing.T) int {
	t.Helper()
	var st runStatus
	var err error
	pid := 0
	perr := harness.Poll(15*time.Second, func() bool {
		st, err = r.status()
		pid = 0
		for _, c := range st.Run.Children {
			if c.State == "serving" {
				pid = c.PID
			}
		}
		return err == nil && st.State == "serving" && pid != 0
	})
	if perr != nil {
		t.Fatalf("no serving child: status %+v, %v\n%s", st, err, harness.Tail(r.log(), 40))
	}
	return pid
}

// hasChild reports whether pid is still a child of the supervisor.
func (r *runProc) hasChild(pid int) bool {
	st, err := r.status()
	if err != nil {
		return false
	}
	for _, c := range st.Run.Children {
		if c.PID == pid {
			return true
		}
	}
	return false
}

func (r *runProc) waitServes(t *testing.T, pid int) {
	t.Helper()
	var got string
	if err := harness.Poll(10*time.Second, func() bool { got = getPID(r.addr); return got == strconv.Itoa(pid) }); err != nil {
		t.Fatalf("GET / X-Pid: got %q; want child %d (%v)", got, pid, err)
	}
}

// upgradeBySignal sends SIGHUP to the supervisor and waits until a new
// child serves and the old one has drained and been reaped.
func (r *runProc) upgradeBySignal(t *testing.T, old int) int {
	t.Helper()
	sup, _ := proc.ReadPID(r.pidFile)
	if err := syscall.Kill(sup, syscall.SIGHUP); err != nil {
		t.Fatalf("SIGHUP %d: %v", sup, err)
	}
	var next int
	if err := harness.Poll(15*time.Second, func() bool { next = r.serving(t); return next != old }); err != nil {
		t.Fatalf("no new child after SIGHUP; still %d\n%s", old, harness.Tail(r.log(), 40))
	}
	r.waitServes(t, next)
	if err := harness.Poll(15*time.Second, func() bool { return !r.hasChild(old) }); err != nil {
		t.Fatalf("old child %d still there after the upgrade\n%s", old, harness.Tail(r.log(), 40))
	}
	return next
}

// stop sends SIGTERM to supervisor pid and returns how it ended.
func (r *runProc) stop(t *testing.T, pid int) proc.Exit {
	t.Helper()
	syscall.Kill(pid, syscall.SIGTERM)
	return waitGone(t, pid, 20*time.Second)
}

// childNotifyDir is the directory of the supervisor's notify socket, read
// from a child's environment.
func childNotifyDir(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return ""
	}
	m := regexp.MustCompile("(?:^|\x00)NOTIFY_SOCKET=([^\x00]*)").FindSubmatch(b)
	if m == nil {
		return ""
	}
	return filepath.Dir(string(m[1]))
}
