//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/harness"
	"github.com/handoff-go/handoff/e2e/internal/proc"
)

// binaries are the servers the bench compares, built once.
type binaries struct {
	demo   string // examples/demo: handoff
	tfdemo string // e2e/cmd/tfdemo: tableflip
	plain  string // e2e/cmd/plaindemo: the demo's handler on a plain http.Server

	// Bad builds of demo and tfdemo (section badbuild): each exits with
	// status 3 crashAfter after it is ready. Empty unless built.
	demoBad, tfdemoBad string
}

// targets are the builds of b into dir; the bad builds only with bad.
func (b *binaries) targets(dir string, bad bool) []harness.Target {
	b.demo, b.tfdemo, b.plain = filepath.Join(dir, "demo"), filepath.Join(dir, "tfdemo"), filepath.Join(dir, "plaindemo")
	t := []harness.Target{
		{Out: b.demo, Pkg: "github.com/handoff-go/handoff/examples/demo"},
		{Out: b.tfdemo, Pkg: "github.com/handoff-go/handoff/e2e/cmd/tfdemo"},
		{Out: b.plain, Pkg: "github.com/handoff-go/handoff/e2e/cmd/plaindemo"},
	}
	if !bad {
		return t
	}
	b.demoBad, b.tfdemoBad = filepath.Join(dir, "demo-bad"), filepath.Join(dir, "tfdemo-bad")
	return append(t,
		harness.Target{Out: b.demoBad, Pkg: "github.com/handoff-go/handoff/examples/demo", Flags: harness.CrashAfterReady(crashAfter)},
		harness.Target{Out: b.tfdemoBad, Pkg: "github.com/handoff-go/handoff/e2e/cmd/tfdemo", Flags: harness.CrashAfterReady(crashAfter)})
}

// bench owns every process and temporary directory the bench creates:
// each process it spawns leads a process group of its own (later server
// generations inherit it), and every group is SIGKILLed when done with.
type bench struct {
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

func newBench(wrk, logDir string) *bench {
	return &bench{wrk: wrk, logDir: logDir, end: time.Now(), groups: map[int]bool{}, dirs: map[string]bool{}}
}

// build builds the servers into a temp dir of b, and their bad builds
// too with bad. It must run before the reaper starts, as it waits for
// `go build` itself.
func (b *bench) build(bad bool) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.mu.Lock()
	if b.cleaned {
		b.mu.Unlock()
		return errStopping
	}
	b.stopBuild = cancel
	b.building.Add(1)
	b.mu.Unlock()
	defer b.building.Done()
	dir, err := b.tempDir()
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	return harness.Build(ctx, b.bins.targets(dir, bad)...)
}

// errStopping refuses new work once cleanup has begun.
var errStopping = errors.New("bench is stopping")

// start readies b to run servers until end, their exits collected by r.
func (b *bench) start(r *proc.Reaper, end time.Time) {
	b.reaper, b.end = r, end
}

// tempDir makes a short-named temp dir (Unix socket paths stay < 100 bytes)
// that cleanup removes unless removeDir does first.
func (b *bench) tempDir() (string, error) {
	dir, err := os.MkdirTemp("", "hb")
	if err != nil {
		return "", err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dirs[dir] = true
	return dir, nil
}

func (b *bench) removeDir(dir string) {
	os.RemoveAll(dir)
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.dirs, dir)
}

// spawn starts exe as the leader of a new process group, its output
// appended to logPath, and leaves its exit status to the reaper.
func (b *bench) spawn(exe string, args []string, logPath string) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock() // so cleanup never misses a group being born
	if b.cleaned {
		return 0, errStopping
	}
	pid, err := harness.Start(b.reaper, harness.Cmd{Path: exe, Args: args, Log: logPath, Group: true})
	if err != nil {
		return 0, err
	}
	b.groups[pid] = true
	return pid, nil
}

// killGroup SIGKILLs group pgid and waits up to 5 s until none of it runs.
func (b *bench) killGroup(pgid int) error {
	b.mu.Lock()
	b.groups[pgid] = false
	b.mu.Unlock()
	return harness.KillGroup(pgid, 5*time.Second)
}

// cleanup kills every group still owned and removes every temp dir. It is
// safe to call from the interrupt handler while other work runs.
func (b *bench) cleanup() {
	b.mu.Lock()
	b.cleaned = true
	if b.stopBuild != nil {
		b.stopBuild()
	}
	b.mu.Unlock()
	b.building.Wait()
	b.mu.Lock()
	var live []int
	for pgid, owned := range b.groups {
		if owned {
			live = append(live, pgid)
		}
	}
	b.mu.Unlock()
	for _, pgid := range live {
		if err := b.killGroup(pgid); err != nil {
			fmt.Fprintln(os.Stderr, "bench: warning:", err)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for dir := range b.dirs {
		os.RemoveAll(dir)
	}
	b.dirs = map[string]bool{}
}

// leftovers lists processes still alive in any group the bench started.
func (b *bench) leftovers() []int {
	b.mu.Lock()
	pgids := make([]int, 0, len(b.groups))
	for pgid := range b.groups {
		pgids = append(pgids, pgid)
	}
	b.mu.Unlock()
	var left []int
	for _, pgid := range pgids {
		left = append(left, proc.GroupMembers(pgid)...)
	}
	sort.Ints(left)
	return left
}

// groupCount is how many process groups the bench started.
func (b *bench) groupCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.groups)
}

// outOfTime reports whether the run's overall time budget is spent.
func (b *bench) outOfTime() bool { return time.Now().After(b.end) }
