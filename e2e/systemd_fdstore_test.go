//go:build linux

package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/harness"
	"github.com/handoff-go/handoff/e2e/internal/proc"
	"github.com/handoff-go/handoff/internal/testutil"
)

const fdStoreUnit = "demo-fdstore.service"

// restartGap is RestartSec= for these tests (a drop-in; the shipped unit
// keeps systemd's 100ms): long enough that a connection made after the
// kill surely arrives while no process serves.
const restartGap = "2s"

// TestSystemdFDStore runs demo-fdstore.service, which has no .socket
// unit: the demo binds its socket itself and keeps it in systemd's fd
// store. A kill -9 of the serving process (after a reload, so that it is
// no child of systemd) and then a `systemctl restart`, both under
// non-retrying load, must refuse no connection, and the service must come
// back on the very same socket. The same unit with the store switched off
// must refuse the connection made in the gap: that is what the store is
// for, and it shows this test can tell.
func TestSystemdFDStore(t *testing.T) {
	skipWithoutNspawn(t)
	t.Run("store", func(t *testing.T) { testFDStoreRestarts(t, bootUnits(t, true)) })
	t.Run("store-off", func(t *testing.T) { testFDStoreOff(t, bootUnits(t, true)) })
}

// startFDStoreUnit starts demo-fdstore.service with extra [Service] lines
// in a drop-in, and returns its MainPID and the inode of its socket.
func startFDStoreUnit(t *testing.T, b *unitBox, dropIn string) (int, string) {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("journal of %s:\n%s", fdStoreUnit, harness.Tail(b.m.Journal(fdStoreUnit), 80))
		}
	})
	dir := "/etc/systemd/system/" + fdStoreUnit + ".d"
	script := fmt.Sprintf("mkdir -p %s && printf '[Service]\\n%s\\n' > %s/test.conf", dir, dropIn, dir)
	if out, code, err := b.m.Run(10*time.Second, "sh", "-c", script); err != nil || code != 0 {
		t.Fatalf("write the drop-in: exit %d %v\n%s", code, err, out)
	}
	b.mustSystemctl(t, "daemon-reload")
	b.mustSystemctl(t, "start", fdStoreUnit)
	pid := fdStoreRunning(t, b, "start", 0)
	ino, ok := harness.ListenerInode(b.addr)
	if !ok {
		t.Fatalf("after start: nothing listens on %s", b.addr)
	}
	return pid, ino
}

// fdStoreRunning waits until the unit runs on a MainPID other than old,
// and returns it.
func fdStoreRunning(t *testing.T, b *unitBox, step string, old int) int {
	t.Helper()
	var v map[string]string
	running := func() bool {
		var err error
		v, err = b.m.Show(fdStoreUnit, "ActiveState", "SubState", "MainPID", "NRestarts")
		return err == nil && v["ActiveState"] == "active" && v["SubState"] == "running" &&
			v["MainPID"] != "0" && v["MainPID"] != strconv.Itoa(old)
	}
	if err := harness.Poll(30*time.Second, running); err != nil {
		t.Fatalf("%s: %s is %v; want active/running on a new MainPID (was %d): %v", step, fdStoreUnit, v, old, err)
	}
	pid, _ := strconv.Atoi(v["MainPID"])
	return pid
}

// alone waits until the unit's cgroup holds MainPID pid alone: older
// generations have drained and gone.
func (b *unitBox) alone(t *testing.T, pid int) {
	t.Helper()
	var procs string
	only := func() bool {
		out, _, _ := b.m.Run(10*time.Second, "sh", "-c",
			"cat $(find /sys/fs/cgroup -path '*/system.slice/"+fdStoreUnit+"*' -name cgroup.procs)")
		procs = strings.TrimSpace(out)
		return procs == strconv.Itoa(pid)
	}
	if err := harness.Poll(30*time.Second, only); err != nil {
		t.Fatalf("%s's cgroup holds %q; want MainPID %d alone: %v", fdStoreUnit, procs, pid, err)
	}
}

// killInGap kills MainPID pid with SIGKILL, waits until it is gone, and
// dials the service before systemd has started the next process (it
// checks that it has not). The connection, if one was made, is returned
// with the unit state the dial met.
func (b *unitBox) killInGap(t *testing.T, pid int) (c *testutil.RawConn, state string, err error) {
	t.Helper()
	host := b.m.HostPID(pid)
	if host == 0 {
		t.Fatalf("container pid %d: not found on the host", pid)
	}
	if out, code, err := b.m.Run(10*time.Second, "kill", "-9", strconv.Itoa(pid)); err != nil || code != 0 {
		t.Fatalf("kill -9 %d: exit %d %v\n%s", pid, code, err, out)
	}
	if err := harness.Poll(10*time.Second, func() bool { return !proc.Alive(host) }); err != nil {
		t.Fatalf("MainPID %d (host pid %d) outlived kill -9: %v", pid, host, err)
	}
	c, err = testutil.DialRaw(b.addr)
	if c != nil {
		t.Cleanup(func() { c.Conn.Close() })
	}
	v, serr := b.m.Show(fdStoreUnit, "ActiveState", "SubState", "MainPID")
	if serr != nil {
		t.Fatal(serr)
	}
	state = v["ActiveState"] + "/" + v["SubState"]
	if v["ActiveState"] == "active" {
		t.Fatalf("after kill -9 of %d the dial met %s (MainPID %s); want it in the restart gap (raise restartGap)",
			pid, state, v["MainPID"])
	}
	return c, state, err
}

func testFDStoreRestarts(t *testing.T, b *unitBox) {
	pid, ino := startFDStoreUnit(t, b, "RestartSec="+restartGap)
	if j := b.m.Journal(fdStoreUnit); !strings.Contains(j, "stored=[http]") {
		t.Fatalf("after start: the demo did not store its socket (no 'stored=[http]' in the journal)")
	}
	first := pid
	out, code := b.systemctl(t, "reload", fdStoreUnit)
	if code != 0 {
		t.Fatalf("systemctl reload: exit %d\n%s", code, out)
	}
	pid = fdStoreRunning(t, b, "reload", pid)
	b.alone(t, pid) // the killed process must be the only one that serves
	transcript(t, "fd store: started MainPID %d on socket inode %s, reloaded to MainPID %d", first, ino, pid)

	run := loadStart(b.addr, 32)
	defer run.Stop()
	waitRequests(t, run, 50)
	gap, state, err := b.killInGap(t, pid)
	if err != nil {
		t.Fatalf("dial in the restart gap (unit %s): %v; want it to wait in the backlog of the stored socket", state, err)
	}
	next := fdStoreRunning(t, b, "after kill -9", pid)
	resp, _, err := gap.Get("/")
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("X-Pid") != strconv.Itoa(next) {
		t.Fatalf("request on the connection made in the gap: %v %v; want 200 from the restarted MainPID %d", resp, err, next)
	}
	if got, _ := harness.ListenerInode(b.addr); got != ino {
		t.Errorf("after kill -9: listening socket inode %s; want the stored one, %s", got, ino)
	}
	if j := b.m.Journal(fdStoreUnit); !strings.Contains(j, "mode=cold inherited=1") {
		t.Errorf("after kill -9: the demo did not start from the stored socket (no 'mode=cold inherited=1')")
	}
	waitRequests(t, run, 200)
	res := run.Stop()
	if res.Errors["refused"] != 0 {
		t.Errorf("kill -9: %s; want no refused connection (systemd holds the socket)", res.Summary())
	}
	transcript(t, "kill -9 of MainPID %d: a dial in the gap (unit %s) was answered by MainPID %d; socket inode %s; clients: %s",
		pid, state, next, ino, res.Summary())

	pid = next
	run = loadStart(b.addr, 32)
	defer run.Stop()
	waitRequests(t, run, 50)
	out, code = b.systemctl(t, "restart", fdStoreUnit)
	if code != 0 {
		t.Fatalf("systemctl restart: exit %d\n%s", code, out)
	}
	next = fdStoreRunning(t, b, "restart", pid)
	if got, _ := harness.ListenerInode(b.addr); got != ino {
		t.Errorf("after systemctl restart: listening socket inode %s; want the stored one, %s", got, ino)
	}
	waitRequests(t, run, 200)
	res = run.Stop()
	if res.Errors["refused"] != 0 {
		t.Errorf("systemctl restart: %s; want no refused connection (systemd holds the socket)", res.Summary())
	}
	if res.PIDs[strconv.Itoa(next)] == 0 {
		t.Errorf("the last MainPID %d answered no request (%s)", next, res.Summary())
	}
	transcript(t, "systemctl restart: MainPID %d -> %d, socket inode %s; clients: %s", pid, next, ino, res.Summary())
}

// testFDStoreOff is the same unit with the store switched off: the kill
// closes the socket, a dial in the gap is refused, and the restarted demo
// binds a new one.
func testFDStoreOff(t *testing.T, b *unitBox) {
	pid, ino := startFDStoreUnit(t, b, "RestartSec="+restartGap+"\\nFileDescriptorStoreMax=0\\nEnvironment=FDSTORE=0")
	run := loadStart(b.addr, 32)
	defer run.Stop()
	waitRequests(t, run, 50)
	gap, state, err := b.killInGap(t, pid)
	if err == nil {
		gap.Conn.Close()
		t.Fatalf("without the store a dial in the restart gap (unit %s) connected; want it refused", state)
	}
	next := fdStoreRunning(t, b, "after kill -9", pid)
	got, _ := harness.ListenerInode(b.addr)
	if got == ino {
		t.Errorf("without the store: the restarted demo listens on inode %s; want a new socket", got)
	}
	waitRequests(t, run, 200)
	res := run.Stop()
	if res.Errors["refused"] == 0 {
		t.Errorf("without the store: %s; want refused connections in the %s gap", res.Summary(), restartGap)
	}
	transcript(t, "store off: kill -9 of MainPID %d: a dial in the gap (unit %s): %v; restarted as MainPID %d on inode %s (was %s); clients: %s",
		pid, state, err, next, got, ino, res.Summary())
}
