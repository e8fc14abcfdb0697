//go:build linux

package main

import (
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestProcessStartOfSelf(t *testing.T) {
	start, zombie, ok := processStart(os.Getpid())
	if !ok || zombie || start == 0 {
		t.Fatalf("processStart(self) = %d, zombie %v, ok %v; want a start time, running", start, zombie, ok)
	}
	if _, _, ok := processStart(1 << 30); ok {
		t.Fatalf("processStart(%d): ok; want false for a pid that cannot exist", 1<<30)
	}
}

// TestWatchReusedPID: a pid whose start time differs from the one seen
// first now names another process; the one watched is gone.
func TestWatchReusedPID(t *testing.T) {
	w := newWatch()
	pid := os.Getpid()
	w.add(pid, "self")
	if len(w.procs) != 1 {
		t.Fatalf("add(self): watching %v; want self", w.procs)
	}
	if left := w.wait(time.Now(), io.Discard); len(left) != 1 || !strings.Contains(left[0], "(self)") {
		t.Fatalf("wait on a live process: left %v; want it still running", left)
	}
	p := w.procs[pid]
	p.start++ // as if pid had been reused since
	w.procs[pid] = p
	var out strings.Builder
	if left := w.wait(time.Now().Add(time.Second), &out); len(left) != 0 {
		t.Fatalf("wait on a reused pid: left %v; want none", left)
	}
	if got, want := out.String(), "pid "+strconv.Itoa(pid)+" exited\n"; got != want {
		t.Fatalf("wait printed %q; want %q", got, want)
	}
	w.add(1<<30, "nobody")
	if len(w.procs) != 0 {
		t.Fatalf("add of a pid that does not run: watching %v; want nothing", w.procs)
	}
}
