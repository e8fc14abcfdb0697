//go:build unix

package listeners

import (
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	// The runtime opens its poller descriptors on first use; open them now
	// so that the per-test fd counts see only what the test leaked.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	os.Exit(m.Run())
}

// handoff moves a's members into a fresh Set the way a new process would
// get them: dups through Export, ownership through Inherit.
func handoff(t *testing.T, a *Set) *Set {
	t.Helper()
	entries, fds := mustExport(t, a)
	b := newSet(t)
	if err := b.Inherit(entries, fds); err != nil {
		t.Fatalf("Inherit(%+v): %v", entries, err)
	}
	return b
}

// mustExport exports s's members; the caller owns the fds.
func mustExport(t *testing.T, s *Set) ([]Entry, []int) {
	t.Helper()
	entries, fds, err := s.Export()
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	return entries, fds
}

// inodeOf identifies the kernel socket or file behind c: dups share it.
func inodeOf(t *testing.T, c any) uint64 {
	t.Helper()
	fd, err := dupConn(c)
	if err != nil {
		t.Fatalf("dup of %T: %v", c, err)
	}
	defer unix.Close(fd)
	return fdInode(t, fd)
}

func fdInode(t *testing.T, fd int) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatalf("fstat fd %d: %v", fd, err)
	}
	return uint64(st.Ino)
}

func isOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

func needIPv6(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	ln.Close()
}

// roundTrip dials ln's address and accepts the connection, proving ln is
// served by the socket behind addr. The dial completes in the kernel's
// backlog, so no goroutine is needed.
func roundTrip(t *testing.T, ln net.Listener, network, addr string) {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s %s: %v", network, addr, err)
	}
	defer c.Close()
	if dl, ok := ln.(interface{ SetDeadline(time.Time) error }); ok {
		dl.SetDeadline(time.Now().Add(5 * time.Second))
	}
	a, err := ln.Accept()
	if err != nil {
		t.Fatalf("accept on %s: %v", ln.Addr(), err)
	}
	a.Close()
}

// sendTo sends one datagram to addr and reads it from pc.
func sendTo(t *testing.T, pc net.PacketConn, network, addr string) {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatalf("dial %s %s: %v", network, addr, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatalf("write to %s: %v", addr, err)
	}
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16)
	n, _, err := pc.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("read from %s: got %q, %v; want \"ping\"", pc.LocalAddr(), buf[:n], err)
	}
}
