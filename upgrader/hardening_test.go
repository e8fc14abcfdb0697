//go:build linux

package upgrader

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/handoff-go/handoff/control"
	"github.com/handoff-go/handoff/internal/pidfile"
	"github.com/handoff-go/handoff/internal/runhooks"
	"github.com/handoff-go/handoff/internal/testutil"
	"github.com/handoff-go/handoff/internal/wire"
	"golang.org/x/sys/unix"
)

// Each test here covers one hole found by attacking the core (issue 7);
// each fails on the code before the fix.

// Hole 5: a control socket file that was deleted (or replaced by a link)
// must neither break upgrades nor have a link's target chmod'ed.
func TestUpgradeAfterControlSocketFileChanged(t *testing.T) {
	for _, replace := range []string{"deleted", "symlink"} {
		t.Run(replace, func(t *testing.T) {
			testutil.CheckLeaks(t)
			dir := testutil.ShortDir(t)
			ctl := filepath.Join(dir, "ctl.sock")
			t.Setenv("UPGRADER_TEST_CONTROL", ctl)
			u, _ := serving(t, Options{ControlPath: ctl, Command: helperCommand("serve")})
			os.Remove(ctl)
			target := filepath.Join(dir, "target")
			if replace == "symlink" {
				os.WriteFile(target, nil, 0o644)
				os.Symlink(target, ctl)
			}
			if err := u.Upgrade(context.Background()); err != nil {
				t.Fatalf("upgrade after the socket file was %s: %v", replace, err)
			}
			reapAtCleanup(t, u.status().LastUpgrade.NewPID)
			if fi, err := os.Stat(target); replace == "symlink" && (err != nil || fi.Mode().Perm() != 0o644) {
				t.Errorf("link target mode: got %v (%v); want it untouched at 0644", fi.Mode(), err)
			}
		})
	}
}

// Hole 5: abstract control socket names work on Linux.
func TestAbstractControlSocket(t *testing.T) {
	testutil.CheckLeaks(t)
	ctl := fmt.Sprintf("@handoff-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	u, _ := serving(t, Options{ControlPath: ctl})
	if st := status(t, ctl); st.PID != os.Getpid() || st.State != control.StateServing {
		t.Errorf("status over %s: got pid %d state %s; want %d serving", ctl, st.PID, st.State, os.Getpid())
	}
	u.Stop()
}

// Hole 10: a path no Unix socket can have is refused at New with the limit.
func TestControlPathTooLong(t *testing.T) {
	path := "/tmp/" + strings.Repeat("x", 200) + ".sock"
	_, err := New(Options{ControlPath: path})
	if err == nil || !strings.Contains(err.Error(), "may have at most 107") {
		t.Errorf("New with a %d-byte control path: got %v; want it refused naming the limit", len(path), err)
	}
}

// Hole 8: a status larger than one frame comes in pages.
func TestStatusComesInPages(t *testing.T) {
	testutil.CheckLeaks(t)
	ctl := filepath.Join(testutil.ShortDir(t), "ctl.sock")
	u, _ := serving(t, Options{ControlPath: ctl})
	const files = 1100 // with 1,000-byte names: about 1.2 MB of listeners
	for i := range files {
		name := fmt.Sprintf("%04d-%s", i, strings.Repeat("n", 995))
		f, err := u.File(name, func() (*os.File, error) { return os.Open(os.DevNull) })
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	want := files + 2 // and the control socket and "http"
	var got []string
	for pages := 0; len(got) < want; pages++ {
		st := statusFrom(t, ctl, len(got))
		if st.ListenersTotal != want || len(st.Listeners) == 0 || pages > 10 {
			t.Fatalf("page %d: %d listeners of %d; want pages of all %d", pages, len(st.Listeners), st.ListenersTotal, want)
		}
		for _, l := range st.Listeners {
			got = append(got, l.Name)
		}
	}
	if len(got) != want || got[0] != "0000-"+strings.Repeat("n", 995) {
		t.Errorf("listed %d listeners, first %.10q; want %d from 0000-", len(got), got[0], want)
	}
}

func statusFrom(t *testing.T, path string, from int) control.Status {
	t.Helper()
	c := request(t, path, wire.Request{Op: wire.OpStatus, From: from})
	var st control.Status
	if err := c.Expect(wire.TypeStatus, &st); err != nil {
		t.Fatalf("status from %d: %v", from, err)
	}
	return st
}

// Hole 9: a takeover that never says hello must not hold the upgrade slot.
func TestTakeoverWithoutHelloBlocksNothing(t *testing.T) {
	testutil.CheckLeaks(t)
	ctl := filepath.Join(testutil.ShortDir(t), "ctl.sock")
	u, _ := serving(t, Options{ControlPath: ctl, Command: helperCommand("serve"), UpgradeTimeout: 30 * time.Second})
	raw, err := net.Dial("unix", ctl)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	c := wire.NewConn(raw.(*net.UnixConn))
	if err := c.Send(wire.TypeRequest, wire.Request{Op: wire.OpTakeover}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, unreadBy(raw.(*net.UnixConn))) // the server has read the request
	if err := u.Upgrade(context.Background()); err != nil {
		t.Fatalf("upgrade while a silent takeover is open: %v", err)
	}
	reapAtCleanup(t, u.status().LastUpgrade.NewPID)
}

// unreadBy is a condition: the peer has read everything c sent.
func unreadBy(c *net.UnixConn) func() error {
	return func() error {
		rc, err := c.SyscallConn()
		if err != nil {
			return err
		}
		var n int
		var ierr error
		rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) })
		if ierr != nil || n != 0 {
			return fmt.Errorf("%d bytes not yet read by the server (%v)", n, ierr)
		}
		return nil
	}
}

// Hole 9: many half-sent large frames must not make the server buffer
// them: each is refused at its header.
func TestControlFramesBounded(t *testing.T) {
	testutil.CheckLeaks(t)
	ctl := filepath.Join(testutil.ShortDir(t), "ctl.sock")
	serving(t, Options{ControlPath: ctl})
	const conns, sent = 64, 512 << 10
	head := make([]byte, 8+sent)
	copy(head, []byte{'H', 'O', wire.Version, byte(wire.TypeRequest), 0, 0x10, 0, 0}) // announces 1 MiB
	heap := heapInUse()
	var cs []net.Conn
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	for range conns {
		c, err := net.Dial("unix", ctl)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
		c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		c.Write(head) // refused at the header: the rest may not fit
	}
	if grew := heapInUse() - heap; grew > 8<<20 {
		t.Errorf("heap grew by %d MiB for %d half-sent frames; want them refused, not buffered", grew>>20, conns)
	}
	if st := status(t, ctl); st.State != control.StateServing {
		t.Errorf("status after the flood: %s; want serving", st.State)
	}
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// Holes 3 and 7: a new generation trusts neither the pid its predecessor
// declares nor the draining generations it names; it asks the kernel.
func TestTakeoverChecksWhatThePeerDeclares(t *testing.T) {
	testutil.CheckLeaks(t)
	ctl := filepath.Join(testutil.ShortDir(t), "ctl.sock")
	fake, err := net.Listen("unix", ctl)
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	ln, err := listenTCP()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lie := wire.Hello{PID: 999_999, Generation: 5, Draining: []wire.Peer{
		{PID: os.Getpid(), Generation: 4, Start: 1}, // this pid, but another process (start time)
		{PID: 999_998, Generation: 3},               // no such process
	}}
	served := make(chan *wire.Conn, 1)
	go func() {
		raw, err := fake.Accept()
		if err != nil {
			served <- nil
			return
		}
		c := wire.NewConn(raw.(*net.UnixConn))
		if c.Expect(wire.TypeRequest, &wire.Request{}) == nil && playOld(c, lie, ln, namedListener{runhooks.ControlName, fake}) == nil {
			c.Send(wire.TypeReadyAck, struct{}{})
		}
		served <- c
	}()
	nu, err := newTakingOver(t, ctl)
	if err != nil {
		t.Fatal(err)
	}
	defer nu.Stop()
	if c := <-served; c != nil {
		defer c.Close()
	}
	st := nu.status()
	if len(st.Draining) != 1 || st.Draining[0].PID != os.Getpid() || st.Draining[0].Generation != 5 {
		t.Errorf("draining after the takeover: got %+v; want only the real writer of the hello (pid %d, generation 5)",
			st.Draining, os.Getpid())
	}
	if nu.Generation() != 6 {
		t.Errorf("generation: got %d; want 6", nu.Generation())
	}
}

// newTakingOver takes over from the control socket at path, listens on
// "http" and says Ready.
func newTakingOver(t *testing.T, path string) (*Upgrader, error) {
	t.Helper()
	u, err := New(Options{ControlPath: path})
	if err != nil {
		return nil, err
	}
	ln, err := u.Listen("http", "tcp", "127.0.0.1:0")
	if err != nil {
		u.Stop()
		return nil, err
	}
	t.Cleanup(func() { ln.Close() })
	if err := u.Ready(); err != nil {
		u.Stop()
		return nil, err
	}
	return u, nil
}

// Hole 3: a "previous generation" of another user (it created the control
// path first, in a shared directory) is never taken over from.
func TestTakeoverRefusesAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a fake server as another user")
	}
	dir := testutil.ShortDir(t)
	os.Chmod(dir, 0o777)
	ctl := filepath.Join(dir, "ctl.sock")
	cmd, err := startAs(dir, "fakeserver", 65534, 65534, "UPGRADER_TEST_CONTROL="+ctl)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
	// The fake server chmods its socket only after net.Listen returns: the
	// file alone appears at bind, before listen, when a dial is refused
	// and New would take the path for a stale socket and cold-start.
	testutil.WaitFor(t, 5*time.Second, func() error {
		fi, err := os.Stat(ctl)
		if err == nil && fi.Mode().Perm() != 0o777 {
			err = fmt.Errorf("%s is bound but not yet listening (mode %v)", ctl, fi.Mode().Perm())
		}
		return err
	})
	u, err := New(Options{ControlPath: ctl})
	if err == nil {
		u.Stop()
		t.Fatal("took over from a server running as uid 65534; want it refused")
	}
	if !strings.Contains(err.Error(), "runs as uid 65534") {
		t.Errorf("got %v; want it to say the server runs as uid 65534", err)
	}
}

// Hole 6: when the previous generation dies between our Ready and its
// ReadyAck, this generation owns the set and serves.
func TestServesWhenPreviousDiesBeforeReadyAck(t *testing.T) {
	dir := testutil.ShortDir(t)
	pidFile, addrFile := filepath.Join(dir, "app.pid"), filepath.Join(dir, "addr")
	t.Setenv("UPGRADER_TEST_PIDFILE", pidFile)
	t.Setenv("UPGRADER_TEST_ADDRFILE", addrFile)
	cmd, _ := helperCommand("olddies")()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The child it starts stays in its group: killed even if this test
	// fails before it learns the child's pid.
	group := cmd.Process.Pid
	t.Cleanup(func() { syscall.Kill(-group, syscall.SIGKILL) })
	var ee *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("the dying old generation ended with %v; want exit status 7 (it died on cue)", err)
	}
	var child int
	testutil.WaitFor(t, 10*time.Second, func() error {
		var err error
		child, err = pidfile.Read(pidFile)
		return err
	})
	reapAtCleanup(t, child) // an orphan now: killed, and gone once init reaps it
	addr, _ := os.ReadFile(addrFile)
	if got := getPID(string(addr)); got != strconv.Itoa(child) {
		t.Errorf("GET / after the old generation died: X-Pid %q; want the new generation %d", got, child)
	}
}
