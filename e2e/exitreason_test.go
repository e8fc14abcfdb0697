//go:build linux

package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDemoLogsWhyItExits: the demo says why it stops serving, as
// Upgrader.ExitReason tells it: "handed over" when SIGHUP's upgrade hands
// its sockets on, "stop requested" when `handoff stop` asks, never the one
// for the other.
func TestDemoLogsWhyItExits(t *testing.T) {
	d := startDemo(t)
	gen1 := d.first
	gen2 := d.upgradeBySignal(t, gen1)
	checkDrainLine(t, d, gen1, `msg="handed over; draining" pid=`+strconv.Itoa(gen1), "reason=handed-over")

	res := handoffCLI(t, procOpts{}, "stop", "-control", d.control, "-timeout", "20s")
	if res.code != 0 {
		t.Fatalf("stop: exit %d\n%s\nwant exit 0", res.code, res.output)
	}
	waitGone(t, gen2, 15*time.Second)
	checkDrainLine(t, d, gen2, `msg="stop requested over the control socket; draining" pid=`+strconv.Itoa(gen2),
		"reason=stop-requested")
}

// checkDrainLine finds the line where pid says why it drains and checks
// it holds every one of want.
func checkDrainLine(t *testing.T, d *demoProc, pid int, want ...string) {
	t.Helper()
	var line string
	for _, l := range strings.Split(d.log(), "\n") {
		if strings.Contains(l, "pid="+strconv.Itoa(pid)+" ") && strings.Contains(l, `; draining"`) {
			line = l
			break
		}
	}
	if line == "" {
		t.Fatalf("pid %d logged no line saying why it drains:\n%s", pid, d.log())
	}
	for _, w := range want {
		if !strings.Contains(line, w) {
			t.Errorf("pid %d's drain line: got %q; want it to hold %q", pid, line, w)
		}
	}
}
