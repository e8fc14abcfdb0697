//go:build linux

package proc

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestStartForgetsAnEarlierProcess recycles a pid on purpose (root may
// set /proc/sys/kernel/ns_last_pid) and checks that the new process is
// not reported exited with the status of the earlier one: the CI failure
// where a fresh nsenter read as "wait status 0x9" at once, because a
// process SIGKILLed long before had had the same pid.
func TestStartForgetsAnEarlierProcess(t *testing.T) {
	const lastPID = "/proc/sys/kernel/ns_last_pid"
	if f, err := os.OpenFile(lastPID, os.O_WRONLY, 0); err != nil {
		t.Skipf("skipping: cannot choose the next pid: %v", err)
	} else {
		f.Close()
	}
	r, err := StartReaper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)

	// The earlier process: SIGKILLed, reaped, its record left behind.
	old, err := r.Start(exec.Command("/bin/sh", "-c", "kill -9 $$"))
	if err != nil {
		t.Fatal(err)
	}
	rec := waitExit(t, r, old)
	if !rec.Status.Signaled() || rec.Status.Signal() != syscall.SIGKILL {
		t.Fatalf("the earlier process ended %v; want killed by SIGKILL", rec)
	}

	// The new process gets the same pid. Other threads and processes may
	// take the number first, so try a bounded number of times.
	for try := 1; try <= 50; try++ {
		if err := os.WriteFile(lastPID, []byte(strconv.Itoa(old-1)), 0); err != nil {
			t.Fatalf("set %s: %v", lastPID, err)
		}
		cmd := exec.Command("/bin/sleep", "0.2")
		pid, err := r.Start(cmd)
		if err != nil {
			t.Fatal(err)
		}
		if pid != old {
			waitExit(t, r, pid)
			r.Forget(pid)
			continue
		}
		if e, ok := r.Exited(pid); ok {
			t.Fatalf("pid %d runs again, yet the reaper reports it ended (%v): the earlier process's record", pid, e)
		}
		if e := waitExit(t, r, pid); !e.OK() {
			t.Fatalf("sleep 0.2 (pid %d) ended %v; want exit 0", pid, e)
		}
		return
	}
	t.Skip("skipping: pid was not recycled in 50 tries (other processes took it)")
}

// waitExit polls the reaper for pid's exit, for up to 10 seconds.
func waitExit(t *testing.T, r *Reaper, pid int) Exit {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if e, ok := r.Exited(pid); ok {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d not reaped within 10s (alive: %v)", pid, Alive(pid))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
