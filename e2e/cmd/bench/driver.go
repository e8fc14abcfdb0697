//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/harness"
	"github.com/handoff-go/handoff/e2e/internal/load"
)

// wrkMode is the client mode served by wrk instead of the in-process load.
const wrkMode load.Mode = "wrk"

// loadResult is what a load driver saw, whichever it was.
type loadResult struct {
	ok, lost  int64
	errors    map[string]int64
	latencies []time.Duration // sorted; none for wrk
	elapsed   time.Duration
}

// driver is load running against a server until finish.
type driver interface {
	finish() (loadResult, error)
}

// startDriver starts clients of mode against addr, bounded by end, and
// returns once requests are being answered.
func (b *bench) startDriver(mode load.Mode, addr string, clients int, end time.Time) (driver, error) {
	if mode == wrkMode {
		return b.startWrkDriver(addr, clients, end)
	}
	run := load.Start(load.Config{Addr: addr, Clients: clients, Mode: mode,
		MaxDuration: time.Until(end) + 5*time.Second})
	if !harness.Until(harness.Earliest(5*time.Second, end), time.Millisecond, func() bool {
		ok, _ := run.Counts()
		return ok >= int64(4*clients)
	}) {
		res := run.Stop()
		return nil, fmt.Errorf("load did not get going: %s", res.Summary())
	}
	return inProcess{run}, nil
}

// inProcess is the load package's non-retrying clients.
type inProcess struct{ run *load.Run }

func (d inProcess) finish() (loadResult, error) {
	res := d.run.Stop()
	return loadResult{ok: res.OK, lost: res.Failed, errors: res.Errors,
		latencies: res.Latencies, elapsed: res.Elapsed}, nil
}

// startWrkDriver is wrk as a driver: it runs until finish interrupts it.
func (b *bench) startWrkDriver(addr string, clients int, end time.Time) (driver, error) {
	w, err := b.startWrk(addr, clients, time.Until(end)+5*time.Second)
	if err != nil {
		return nil, err
	}
	time.Sleep(500 * time.Millisecond) // let its connections open
	if rec, gone := b.reaper.Exited(w.pid); gone {
		w.result(false, 0)
		return nil, fmt.Errorf("wrk exited at start (%v): %s", rec, harness.LastLogLine(w.out))
	}
	return wrkDriver{w}, nil
}

// wrkDriver is a wrk process putting load on a server.
type wrkDriver struct{ w *wrkRun }

// finish interrupts wrk, which makes it stop and print its summary.
func (d wrkDriver) finish() (loadResult, error) {
	res, err := d.w.result(true, 10*time.Second)
	if err != nil {
		return loadResult{}, err
	}
	return loadResult{ok: res.requests - res.non2xx, lost: res.lost(), errors: res.breakdown(),
		elapsed: time.Since(d.w.start)}, nil
}

// wrkRun is a wrk process; its output goes to a file in dir.
type wrkRun struct {
	b     *bench
	pid   int
	dir   string
	out   string
	start time.Time
}

// startWrk runs `wrk -t2 -c<conns> -d<d>` against addr (d in whole
// seconds, at least one).
func (b *bench) startWrk(addr string, conns int, d time.Duration) (*wrkRun, error) {
	dir, err := b.tempDir()
	if err != nil {
		return nil, fmt.Errorf("wrk: %w", err)
	}
	w := &wrkRun{b: b, dir: dir, out: filepath.Join(dir, "wrk.out"), start: time.Now()}
	secs := strconv.Itoa(max(1, int(d/time.Second)))
	args := []string{"-t2", "-c" + strconv.Itoa(conns), "-d" + secs + "s", "http://" + addr + "/"}
	if w.pid, err = b.spawn(b.wrk, args, w.out); err != nil {
		b.removeDir(dir)
		return nil, fmt.Errorf("wrk: %w", err)
	}
	return w, nil
}

// result waits up to within for wrk to exit, after interrupting it if
// interrupt, kills whatever is left of it and parses its summary.
func (w *wrkRun) result(interrupt bool, within time.Duration) (wrkResult, error) {
	defer w.b.removeDir(w.dir)
	if interrupt {
		syscall.Kill(w.pid, syscall.SIGINT)
	}
	exited := harness.Until(time.Now().Add(within), 5*time.Millisecond, func() bool {
		_, gone := w.b.reaper.Exited(w.pid)
		return gone
	})
	if err := w.b.killGroup(w.pid); err != nil {
		fmt.Fprintln(os.Stderr, "bench: warning:", err)
	}
	if !exited {
		return wrkResult{}, fmt.Errorf("wrk did not exit within %v", within)
	}
	text, _ := os.ReadFile(w.out)
	res, err := parseWrk(string(text))
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w", err)
	}
	return res, nil
}
