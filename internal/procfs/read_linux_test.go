//go:build linux

package procfs

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/handoff-go/handoff/internal/testutil"
)

func TestReadStatSelf(t *testing.T) {
	st, err := ReadStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.PID != os.Getpid() || st.PPID != os.Getppid() || st.PGRP != syscall.Getpgrp() ||
		!st.Running() || st.Start == 0 {
		t.Errorf("ReadStat(self) = %+v; want pid %d, ppid %d, pgrp %d, running, a start time",
			st, os.Getpid(), os.Getppid(), syscall.Getpgrp())
	}
}

// TestReadStatZombieThenGone: a child that exited is a zombie until it is
// reaped, and gone after.
func TestReadStatZombieThenGone(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	testutil.WaitFor(t, 10*time.Second, func() error {
		st, err := ReadStat(pid)
		if err != nil || st.State != 'Z' || st.Running() || st.PPID != os.Getpid() {
			return errors.New("child not (yet) a zombie of this process")
		}
		return nil
	})
	cmd.Wait()
	if st, err := ReadStat(pid); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadStat(reaped child) = %+v, %v; want an error wrapping fs.ErrNotExist", st, err)
	}
}

func TestReadStatNoSuchPid(t *testing.T) {
	for _, pid := range []int{0, -1, 1 << 30} {
		if st, err := ReadStat(pid); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadStat(%d) = %+v, %v; want an error wrapping fs.ErrNotExist", pid, st, err)
		}
	}
}

// TestAllHasSelfAndParent: the list holds this process and its parent,
// each as ReadStat reads it.
func TestAllHasSelfAndParent(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, st := range all {
		if st.PID == os.Getpid() || st.PID == os.Getppid() {
			if one, err := ReadStat(st.PID); err != nil || one.Start != st.Start || one.PPID != st.PPID {
				t.Errorf("All has %+v; ReadStat says %+v, %v", st, one, err)
			}
			found++
		}
	}
	if found != 2 {
		t.Errorf("All: %d processes, %d of self and parent; want both", len(all), found)
	}
}
