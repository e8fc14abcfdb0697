//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/harness"
	"github.com/handoff-go/handoff/e2e/internal/proc"
	"github.com/handoff-go/handoff/internal/testutil"
)

// kind names the server under test.
type kind string

const (
	handoff   kind = "handoff"
	tableflip kind = "tableflip"
)

// Timeouts every step is bounded by.
const (
	startTimeout   = 10 * time.Second // server up and answering
	upgradeTimeout = 10 * time.Second // trigger to a new pid in the pid file
	goneTimeout    = 15 * time.Second // new pid to old pid exited
	pidPoll        = 500 * time.Microsecond
	retryPause     = 5 * time.Millisecond // before re-sending a refused trigger
)

// server is one deployment: a temp dir with its pid file, control socket
// and log, and the process group its first generation leads (every later
// generation inherits the group).
type server struct {
	kind       kind
	label      string // which run, for kept logs
	dir        string
	addr       string
	pidFile    string
	logPath    string
	ctlPath    string // handoff's control socket
	eventsPath string // tfdemo's -events file
	pgid       int    // also the first generation's pid
}

// startServer starts k with listeners listening sockets (one serving HTTP,
// the rest idle) and waits until it answers GET / from the pid in its pid
// file. On failure nothing of it is left running.
func (b *bench) startServer(k kind, label string, listeners int) (*server, error) {
	dir, err := b.tempDir()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", k, err)
	}
	s := &server{kind: k, label: label, dir: dir, pidFile: filepath.Join(dir, "pid"), logPath: filepath.Join(dir, "log"),
		ctlPath: filepath.Join(dir, "ctl"), eventsPath: filepath.Join(dir, "events")}
	if s.addr, err = testutil.FreeAddr(); err != nil {
		b.removeDir(dir)
		return nil, fmt.Errorf("start %s: %w", k, err)
	}
	exe := map[kind]string{handoff: b.bins.demo, tableflip: b.bins.tfdemo, plain: b.bins.plain}[k]
	if s.pgid, err = b.spawn(exe, s.args(listeners), s.logPath); err != nil {
		b.removeDir(dir)
		return nil, fmt.Errorf("start %s: %w", k, err)
	}
	if err := b.waitServing(s); err != nil {
		b.stopServer(s)
		return nil, err
	}
	return s, nil
}

// benchProbation is the demo's probation in every section but badbuild
// (which sets its own, later on the command line): each upgrade still goes
// through probation, and a hundred upgrades in a row stay quick.
const benchProbation = 200 * time.Millisecond

func (s *server) args(listeners int) []string {
	args := []string{"-listen", s.addr, "-pid-file", s.pidFile,
		"-extra-listeners", strconv.Itoa(listeners - 1)}
	switch s.kind {
	case handoff:
		args = append(args, "-control", s.ctlPath, "-log-format", "json",
			"-upgrade-timeout", "10s", "-drain-timeout", "10s", "-probation", benchProbation.String())
	case tableflip:
		args = append(args, "-events", s.eventsPath, "-log-format", "json")
	}
	return args
}

// waitServing waits until the first generation has written the pid file
// and answers GET / itself.
func (b *bench) waitServing(s *server) error {
	deadline := harness.Earliest(startTimeout, b.end)
	died := false
	up := harness.Until(deadline, 5*time.Millisecond, func() bool {
		if _, gone := b.reaper.Exited(s.pgid); gone {
			died = true
			return true
		}
		pid, ok := proc.ReadPID(s.pidFile)
		if !ok || pid != s.pgid {
			return false
		}
		by, _ := harness.ServedBy(s.addr, time.Second)
		return by == strconv.Itoa(pid)
	})
	switch {
	case died:
		rec, _ := b.reaper.Exited(s.pgid)
		return fmt.Errorf("%s exited at start (%v): %s", s.kind, rec, harness.LastLogLine(s.logPath))
	case !up:
		return fmt.Errorf("%s not serving within %v: %s", s.kind, startTimeout, harness.LastLogLine(s.logPath))
	}
	return nil
}

// stopServer kills every generation of s, removes its dir and returns
// its log.
func (b *bench) stopServer(s *server) string {
	if err := b.killGroup(s.pgid); err != nil {
		fmt.Fprintln(os.Stderr, "bench: warning:", err)
	}
	log, _ := os.ReadFile(s.logPath)
	b.keepLog(s, log)
	b.removeDir(s.dir)
	return string(log)
}

// keepLog copies s's log into the -logs directory, if one was given.
func (b *bench) keepLog(s *server, log []byte) {
	if b.logDir == "" {
		return
	}
	name := filepath.Join(b.logDir, fmt.Sprintf("%s-%s-%d.log", s.label, s.kind, s.pgid))
	if err := os.WriteFile(name, log, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bench: warning: keep log:", err)
	}
}

// upgraded is an upgrade that produced a new pid.
type upgraded struct {
	next    int
	start   time.Time     // when the trigger that was taken went out
	took    time.Duration // from then to the new pid in the pid file
	attempt attempt       // the server's own account of it
}

// upgrade triggers an upgrade of old and waits for the pid file to name
// another process. A trigger the server turns down is sent again after
// retryPause, until upgradeTimeout; refused lists why each was not taken.
func (b *bench) upgrade(s *server, old int, end time.Time) (up upgraded, refused []string, err error) {
	first := time.Now()
	deadline := harness.Earliest(upgradeTimeout, end)
	for {
		start := time.Now()
		a, err := b.trigger(s, old)
		if err != nil {
			return upgraded{}, refused, b.goneError(s, old, err)
		}
		next, reason := awaitNewPID(s, old, a, deadline)
		if next > 0 {
			b.reaper.ForgetEarlier(next) // a recycled pid must not look exited
			return upgraded{next: next, start: start, took: time.Since(start), attempt: a}, refused, nil
		}
		a.settle(time.Second)
		if reason == "" {
			return upgraded{}, refused, b.goneError(s, old,
				fmt.Errorf("no new pid within %v", time.Since(first).Round(time.Second)))
		}
		refused = append(refused, reason)
		time.Sleep(retryPause)
	}
}

// awaitNewPID polls the pid file until it names a pid other than old
// (next), the server turns the attempt down (reason), or the deadline
// passes (neither).
func awaitNewPID(s *server, old int, a attempt, deadline time.Time) (next int, reason string) {
	polls := 0
	harness.Until(deadline, pidPoll, func() bool {
		if pid, ok := proc.ReadPID(s.pidFile); ok && pid != old {
			next = pid
			return true
		}
		if polls++; polls%10 == 0 {
			reason = a.refusal()
		}
		return reason != ""
	})
	return next, reason
}

// errServerGone means the process meant to serve has ended: there is
// nothing left to upgrade.
var errServerGone = errors.New("server gone")

// goneError adds to err how pid ended, if it has, wrapping errServerGone.
func (b *bench) goneError(s *server, pid int, err error) error {
	if proc.RunsInGroup(pid, s.pgid) {
		return err
	}
	var rec proc.Exit
	reaped := harness.Until(time.Now().Add(200*time.Millisecond), 5*time.Millisecond, func() bool {
		var ok bool
		rec, ok = b.reaper.Exited(pid)
		return ok
	})
	how := "not reaped"
	if reaped {
		how = rec.String()
	}
	return fmt.Errorf("%w: serving pid %d ended (%s; log: %s): %w", errServerGone, pid, how, harness.LastLogLine(s.logPath), err)
}

// waitGone waits until old no longer runs and returns how long that took.
func (b *bench) waitGone(s *server, old int, end time.Time) (time.Duration, error) {
	start := time.Now()
	if !harness.Until(harness.Earliest(goneTimeout, end), pidPoll, func() bool {
		return !proc.RunsInGroup(old, s.pgid)
	}) {
		return 0, fmt.Errorf("old pid %d still running after %v", old, time.Since(start).Round(time.Second))
	}
	return time.Since(start), nil
}
