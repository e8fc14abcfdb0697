//go:build linux

package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/handoff-go/handoff/internal/testutil"
)

// notifySocket stands in for systemd's notification socket: a datagram
// socket the test binds, collecting every message sent to it.
type notifySocket struct {
	path string
	msgs chan string
}

func newNotifySocket(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(testutil.ShortDir(t), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &notifySocket{path: path, msgs: make(chan string, 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			k, err := c.Read(buf)
			if err != nil {
				return
			}
			n.msgs <- string(buf[:k])
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return n
}

// next returns the next message, failing the test after a deadline.
func (n *notifySocket) next(t *testing.T) string {
	t.Helper()
	select {
	case m := <-n.msgs:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no sd_notify message within 10s")
		return ""
	}
}

// TestSystemdNotifySequence runs the demo under a stand-in notify socket
// through a cold start, an upgrade, a failed upgrade and a final stop.
func TestSystemdNotifySequence(t *testing.T) {
	ns := newNotifySocket(t)
	d := newDeployment(t)
	d.env = []string{"NOTIFY_SOCKET=" + ns.path}
	d.start(t)
	if m := ns.next(t); m != "READY=1" {
		t.Fatalf("after the cold start: got %q; want READY=1", m)
	}

	next := d.upgradeBySignal(t, d.first)
	if m := ns.next(t); !regexp.MustCompile(`^RELOADING=1\nMONOTONIC_USEC=\d+$`).MatchString(m) {
		t.Fatalf("upgrade start: got %q; want RELOADING=1 with MONOTONIC_USEC", m)
	}
	// The reload lasts until probation is over: READY=1 comes with MAINPID.
	if m, want := ns.next(t), fmt.Sprintf("STATUS=probation: pid %d serves; pid %d watches it for %s", next, d.first, testProbation); m != want {
		t.Fatalf("probation: got %q; want %q", m, want)
	}
	if m, want := ns.next(t), fmt.Sprintf("MAINPID=%d\nSTATUS=serving: pid %d, generation 2\nREADY=1", next, next); m != want {
		t.Fatalf("upgrade end: got %q; want %q", m, want)
	}

	deploy(t, bins.broken, d.exe)
	syscall.Kill(next, syscall.SIGHUP)
	if m := ns.next(t); !strings.HasPrefix(m, "RELOADING=1\n") {
		t.Fatalf("failing upgrade start: got %q; want RELOADING=1", m)
	}
	if m := ns.next(t); !regexp.MustCompile(`^STATUS=upgrade failed: .*exit status 3.*\nREADY=1$`).MatchString(m) {
		t.Fatalf("failed upgrade: got %q; want STATUS=upgrade failed ... exit status 3, then READY=1", m)
	}

	syscall.Kill(next, syscall.SIGTERM)
	if m := ns.next(t); m != "STOPPING=1" {
		t.Fatalf("final stop: got %q; want STOPPING=1", m)
	}
	if rec := waitGone(t, next, 15*time.Second); rec.Status.ExitStatus() != 0 {
		t.Fatalf("final stop: %v; want exit status 0", rec)
	}
	select {
	case m := <-ns.msgs:
		t.Errorf("unexpected message after STOPPING: %q", m)
	default:
	}
}

// TestSocketActivation starts the demo the way systemd would with a
// .socket unit: the listening socket pre-opened as fd 3 and named in
// LISTEN_FDNAMES. The demo must serve from that very socket, and pass it
// on at its next upgrade.
func TestSocketActivation(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	ln.Close() // f is a dup: the socket stays open, now only for the demo
	if err != nil {
		t.Fatal(err)
	}
	d := newDeployment(t)
	d.addr = ln.Addr().String()
	pid := startProc(t, d.exe, d.args(), d.logPath, procOpts{newGroup: true, viaShell: true, files: []*os.File{f},
		env: []string{"LISTEN_FDS=1", "LISTEN_FDNAMES=http"}})
	f.Close()
	d.first = pid
	d.waitPID(t, func(p int) bool { return p == pid })
	d.waitServes(t, pid)
	if !strings.Contains(d.log(), "inherited=1") {
		t.Fatalf("demo did not inherit the activated socket:\n%s", d.log())
	}
	st := handoffCLI(t, procOpts{}, "status", "-control", d.control)
	if !regexp.MustCompile(`http\s+tcp\s+` + regexp.QuoteMeta(d.addr) + `\s+inherited`).MatchString(st.output) {
		t.Fatalf("status does not show the activated socket as inherited:\n%s", st.output)
	}
	next := d.upgradeBySignal(t, pid)
	d.waitServes(t, next)
}
