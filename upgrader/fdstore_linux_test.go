//go:build linux

package upgrader

import (
	"errors"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/handoff-go/handoff/internal/sdnotify"
	"github.com/handoff-go/handoff/internal/testutil"
)

// fakeSystemd is a notification socket standing in for systemd's.
type fakeSystemd struct {
	c *net.UnixConn
}

// notified is one message received, with the inodes of the fds it carried
// (the fds themselves are closed at once).
type notified struct {
	state  string
	inodes []uint64
}

func listenFakeSystemd(t *testing.T, fdstore string) *fakeSystemd {
	t.Helper()
	addr := filepath.Join(testutil.ShortDir(t), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv(sdnotify.EnvSocket, addr)
	t.Setenv(envFDStore, fdstore)
	return &fakeSystemd{c: c}
}

// queued returns the messages sent so far: sends to a Unix datagram socket
// are queued by the time sendmsg returns, so nothing is still on its way.
func (s *fakeSystemd) queued(t *testing.T) []notified {
	t.Helper()
	var got []notified
	buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(16*4))
	rc, err := s.c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	for {
		var n, oobn, flags int
		var rerr error
		err := rc.Control(func(fd uintptr) {
			n, oobn, flags, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
		})
		if errors.Is(rerr, unix.EAGAIN) {
			return got
		}
		if err = errors.Join(err, rerr); err != nil {
			t.Fatal(err)
		}
		if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
			t.Fatalf("read flags %#x: truncated", flags)
		}
		got = append(got, notified{state: string(buf[:n]), inodes: inodesOf(t, oob[:oobn])})
	}
}

// inodesOf closes the fds in oob and returns their inodes.
func inodesOf(t *testing.T, oob []byte) []uint64 {
	t.Helper()
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		t.Fatal(err)
	}
	var inodes []uint64
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range fds {
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err != nil {
				t.Error(err)
			}
			unix.Close(fd)
			inodes = append(inodes, st.Ino)
		}
	}
	return inodes
}

func TestFDStore(t *testing.T) {
	testutil.CheckLeaks(t)
	sd := listenFakeSystemd(t, "16")
	ctl := filepath.Join(testutil.ShortDir(t), "ctl.sock")
	old, err := New(Options{ControlPath: ctl, DisableConnMoves: true}) // plain listeners, for their inodes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(old.Stop)
	var http net.Listener
	for _, name := range []string{"http", "admin", "bad:name"} {
		ln, err := old.Listen(name, "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		if name == "http" {
			http = ln
		}
	}
	if err := old.Ready(); err != nil {
		t.Fatal(err)
	}
	httpIno := inode(t, http)
	// A cold start: names bound here replace whatever the store holds.
	want := []string{
		"FDSTOREREMOVE=1\nFDNAME=admin", "FDSTORE=1\nFDNAME=admin",
		"FDSTOREREMOVE=1\nFDNAME=http", "FDSTORE=1\nFDNAME=http",
		"READY=1",
	}
	got := sd.queued(t)
	checkNotified(t, "cold start", got, want)
	checkStored(t, "cold start", got, "http", httpIno)

	// The next generation takes over the set and keeps only "http": it
	// stores the same socket again (systemd ignores the duplicate) and
	// takes "admin" out.
	nu, err := New(Options{ControlPath: ctl, DisableConnMoves: true}) // plain listeners, for their inodes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nu.Stop)
	ln, err := nu.Listen("http", "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := nu.Ready(); err != nil {
		t.Fatal(err)
	}
	got = sd.queued(t)
	// The old generation's RELOADING=1 and MAINPID= come in between.
	got = slices.DeleteFunc(got, func(n notified) bool { return !strings.HasPrefix(n.state, "FDSTORE") })
	checkNotified(t, "takeover", got, []string{"FDSTOREREMOVE=1\nFDNAME=admin", "FDSTORE=1\nFDNAME=http"})
	checkStored(t, "takeover", got, "http", httpIno)
}

func TestFDStoreOff(t *testing.T) {
	for _, v := range []string{"", "0", "-1", "many"} {
		sd := listenFakeSystemd(t, v)
		u, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := u.Listen("http", "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := u.Ready(); err != nil {
			t.Fatal(err)
		}
		checkNotified(t, "FDSTORE="+v, sd.queued(t), []string{"READY=1"})
		ln.Close()
		u.Stop()
	}
}

func checkNotified(t *testing.T, step string, got []notified, want []string) {
	t.Helper()
	var states []string
	for _, n := range got {
		states = append(states, n.state)
	}
	if !slices.Equal(states, want) {
		t.Errorf("%s: systemd was sent %q; want %q", step, states, want)
	}
}

// checkStored checks that the message storing name carried the one socket
// with inode ino.
func checkStored(t *testing.T, step string, got []notified, name string, ino uint64) {
	t.Helper()
	for _, n := range got {
		if n.state == "FDSTORE=1\nFDNAME="+name {
			if !slices.Equal(n.inodes, []uint64{ino}) {
				t.Errorf("%s: %q came with fds of inodes %v; want the listener's, %d", step, n.state, n.inodes, ino)
			}
			return
		}
	}
	t.Errorf("%s: %q never stored", step, name)
}

// inode is the inode of the socket ln listens on.
func inode(t *testing.T, ln net.Listener) uint64 {
	t.Helper()
	sc, err := ln.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	var serr error
	if err := sc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil || serr != nil {
		t.Fatal(errors.Join(err, serr))
	}
	return st.Ino
}

func TestValidFDName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"http", true},
		{"extra-0 #2", true},
		{strings.Repeat("a", 255), true},
		{strings.Repeat("a", 256), false},
		{"", false},
		{"a:b", false},
		{"tab\there", false},
		{"del\x7f", false},
		{"é", false},
	} {
		if got := validFDName(tc.name); got != tc.ok {
			t.Errorf("validFDName(%q) = %v; want %v", tc.name, got, tc.ok)
		}
	}
}
