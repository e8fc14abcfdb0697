//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/proc"
)

// binaries are the two servers the bench compares, built once.
type binaries struct {
	dir    string
	demo   string // examples/demo: handoff
	tfdemo string // e2e/cmd/tfdemo: tableflip
	plain  string // e2e/cmd/plaindemo: the demo's handler on a plain http.Server
}

// buildBinaries builds both servers into dir with `go build -o`.
// Cancelling ctx kills each build's whole process group (the compiler
// and linker too), so that none writes into dir after it is removed.
func buildBinaries(ctx context.Context, dir string) (binaries, error) {
	b := binaries{dir: dir, demo: filepath.Join(dir, "demo"), tfdemo: filepath.Join(dir, "tfdemo"),
		plain: filepath.Join(dir, "plaindemo")}
	for _, t := range [][2]string{
		{b.demo, "github.com/handoff-go/handoff/examples/demo"},
		{b.tfdemo, "github.com/handoff-go/handoff/e2e/cmd/tfdemo"},
		{b.plain, "github.com/handoff-go/handoff/e2e/cmd/plaindemo"},
	} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", t[0], t[1])
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.CombinedOutput()
		if err != nil {
			return binaries{}, fmt.Errorf("go build %s: %w\n%s", t[1], err, out)
		}
	}
	return b, nil
}

// harness owns every process and temporary directory the bench creates:
// each process it spawns leads a process group of its own (later server
// generations inherit it), and every group is SIGKILLed when done with.
type harness struct {
	bins   binaries
	reaper *proc.Reaper
	wrk    string    // path to wrk; empty when absent
	logDir string    // keep every server's log here; empty: don't
	end    time.Time // the whole run must be over by then

	building sync.WaitGroup // while build runs

	mu        sync.Mutex
	groups    map[int]bool    // every group started; true while not yet killed
	dirs      map[string]bool // temp dirs not yet removed
	stopBuild context.CancelFunc
	cleaned   bool
}

func newHarness(wrk, logDir string) *harness {
	return &harness{wrk: wrk, logDir: logDir, end: time.Now(), groups: map[int]bool{}, dirs: map[string]bool{}}
}

// build builds the servers into a temp dir of the harness. It must run
// before the reaper starts, as it waits for `go build` itself.
func (h *harness) build() error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h.mu.Lock()
	if h.cleaned {
		h.mu.Unlock()
		return errStopping
	}
	h.stopBuild = cancel
	h.building.Add(1)
	h.mu.Unlock()
	defer h.building.Done()
	dir, err := h.tempDir()
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	h.bins, err = buildBinaries(ctx, dir)
	return err
}

// errStopping refuses new work once cleanup has begun.
var errStopping = errors.New("bench is stopping")

// start readies h to run servers until end, their exits collected by r.
func (h *harness) start(r *proc.Reaper, end time.Time) {
	h.reaper, h.end = r, end
}

// tempDir makes a short-named temp dir (Unix socket paths stay < 100 bytes)
// that cleanup removes unless removeDir does first.
func (h *harness) tempDir() (string, error) {
	dir, err := os.MkdirTemp("", "hb")
	if err != nil {
		return "", err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dirs[dir] = true
	return dir, nil
}

func (h *harness) removeDir(dir string) {
	os.RemoveAll(dir)
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.dirs, dir)
}

// spawn starts exe as the leader of a new process group, its output
// appended to logPath, and leaves its exit status to the reaper.
func (h *harness) spawn(exe string, args []string, logPath string) (int, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	h.mu.Lock()
	defer h.mu.Unlock() // so cleanup never misses a group being born
	if h.cleaned {
		return 0, errStopping
	}
	pid, err := h.reaper.Start(cmd)
	if err != nil {
		return 0, fmt.Errorf("start %s: %w", filepath.Base(exe), err)
	}
	h.groups[pid] = true
	return pid, nil
}

// killGroup SIGKILLs group pgid and waits up to 5 s until none of it runs.
func (h *harness) killGroup(pgid int) error {
	syscall.Kill(-pgid, syscall.SIGKILL)
	h.mu.Lock()
	h.groups[pgid] = false
	h.mu.Unlock()
	if !pollUntil(time.Now().Add(5*time.Second), 5*time.Millisecond, func() bool {
		return len(proc.GroupMembers(pgid)) == 0
	}) {
		return fmt.Errorf("processes %v of group %d outlived SIGKILL", proc.GroupMembers(pgid), pgid)
	}
	return nil
}

// cleanup kills every group still owned and removes every temp dir. It is
// safe to call from the interrupt handler while other work runs.
func (h *harness) cleanup() {
	h.mu.Lock()
	h.cleaned = true
	if h.stopBuild != nil {
		h.stopBuild()
	}
	h.mu.Unlock()
	h.building.Wait()
	h.mu.Lock()
	var live []int
	for pgid, owned := range h.groups {
		if owned {
			live = append(live, pgid)
		}
	}
	h.mu.Unlock()
	for _, pgid := range live {
		if err := h.killGroup(pgid); err != nil {
			fmt.Fprintln(os.Stderr, "bench: warning:", err)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for dir := range h.dirs {
		os.RemoveAll(dir)
	}
	h.dirs = map[string]bool{}
}

// leftovers lists processes still alive in any group the bench started.
func (h *harness) leftovers() []int {
	h.mu.Lock()
	pgids := make([]int, 0, len(h.groups))
	for pgid := range h.groups {
		pgids = append(pgids, pgid)
	}
	h.mu.Unlock()
	var left []int
	for _, pgid := range pgids {
		left = append(left, proc.GroupMembers(pgid)...)
	}
	sort.Ints(left)
	return left
}

// groupCount is how many process groups the bench started.
func (h *harness) groupCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.groups)
}

// outOfTime reports whether the run's overall time budget is spent.
func (h *harness) outOfTime() bool { return time.Now().After(h.end) }
