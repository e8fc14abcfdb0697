//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

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
func (h *harness) startDriver(mode load.Mode, addr string, clients int, end time.Time) (driver, error) {
	if mode == wrkMode {
		return h.startWrk(addr, clients, end)
	}
	run := load.Start(load.Config{Addr: addr, Clients: clients, Mode: mode,
		MaxDuration: time.Until(end) + 5*time.Second})
	if !pollUntil(earliest(5*time.Second, end), time.Millisecond, func() bool {
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

// wrkRun is a wrk process; its output goes to a file in dir.
type wrkRun struct {
	h     *harness
	pid   int
	dir   string
	out   string
	start time.Time
}

// startWrk runs `wrk -t2 -c<clients> -d<until end>s`; finish interrupts
// it, which makes wrk stop and print its summary.
func (h *harness) startWrk(addr string, clients int, end time.Time) (*wrkRun, error) {
	dir, err := h.tempDir()
	if err != nil {
		return nil, fmt.Errorf("wrk: %w", err)
	}
	w := &wrkRun{h: h, dir: dir, out: filepath.Join(dir, "wrk.out"), start: time.Now()}
	secs := int(time.Until(end)/time.Second) + 5
	args := []string{"-t2", "-c" + strconv.Itoa(clients), "-d" + strconv.Itoa(secs) + "s", "http://" + addr + "/"}
	if w.pid, err = h.spawn(h.wrk, args, w.out); err != nil {
		h.removeDir(dir)
		return nil, fmt.Errorf("wrk: %w", err)
	}
	time.Sleep(500 * time.Millisecond) // let its connections open
	if rec, gone := h.reaper.Exited(w.pid); gone {
		w.finish()
		return nil, fmt.Errorf("wrk exited at start (%v): %s", rec, lastLogLine(w.out))
	}
	return w, nil
}

func (w *wrkRun) finish() (loadResult, error) {
	defer w.h.removeDir(w.dir)
	syscall.Kill(w.pid, syscall.SIGINT)
	exited := pollUntil(time.Now().Add(10*time.Second), 5*time.Millisecond, func() bool {
		_, gone := w.h.reaper.Exited(w.pid)
		return gone
	})
	if err := w.h.killGroup(w.pid); err != nil {
		fmt.Fprintln(os.Stderr, "bench: warning:", err)
	}
	if !exited {
		return loadResult{}, fmt.Errorf("wrk did not exit within 10s of SIGINT")
	}
	b, _ := os.ReadFile(w.out)
	res, err := parseWrk(string(b))
	if err != nil {
		return loadResult{}, fmt.Errorf("wrk: %w", err)
	}
	return loadResult{ok: res.requests - res.non2xx, lost: res.lost(), errors: res.breakdown(),
		elapsed: time.Since(w.start)}, nil
}
