//go:build linux

package e2e

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/harness"
	"github.com/handoff-go/handoff/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestControlSocketOutlivesFDExhaustion drives the demo to its fd limit
// with idle connections, dials the control socket while no fd is left
// (its accept fails with EMFILE), then lets go: `handoff status` must be
// answered again. Before the fix one failed accept ended the control
// socket for good (issue 7, hole 1).
func TestControlSocketOutlivesFDExhaustion(t *testing.T) {
	d := startDemo(t)
	limit := uint64(harness.FDCount(d.first) + 6)
	if err := unix.Prlimit(d.first, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: limit, Max: limit}, nil); err != nil {
		t.Skipf("prlimit on the demo: %v", err)
	}
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range 2 * int(limit) {
		c, err := net.DialTimeout("tcp", d.addr, time.Second)
		if err != nil {
			break // the backlog is full too
		}
		held = append(held, c)
	}
	testutil.WaitFor(t, 10*time.Second, func() error {
		if n := harness.FDCount(d.first); uint64(n) < limit {
			return errorf("demo holds %d fds; want its limit of %d", n, limit)
		}
		return nil
	})
	ctl, err := net.Dial("unix", d.control)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	testutil.WaitFor(t, 10*time.Second, func() error {
		if !strings.Contains(d.log(), "control socket: accept failed") {
			return errorf("the demo has not yet failed to accept the control connection")
		}
		return nil
	})
	for _, c := range held {
		c.Close()
	}
	held = nil
	ctl.Close()
	st := handoffCLI(t, procOpts{}, "status", "-control", d.control)
	if st.code != 0 || !strings.Contains(st.output, ": serving") {
		t.Fatalf("status after the fds came back: exit %d\n%s\nwant exit 0, serving", st.code, st.output)
	}
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
