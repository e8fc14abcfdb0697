//go:build unix

package listeners

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/handoff-go/handoff/internal/testutil"
)

// opened is a member as a test opened it: the caller's object and where
// to reach it.
type opened struct {
	conn  io.Closer // net.Listener or net.PacketConn
	bound string
}

func open(t *testing.T, s *Set, name, network, addr string) opened {
	t.Helper()
	if isPacketNetwork(network) {
		pc := mustListenPacket(t, s, name, network, addr)
		return opened{pc, pc.LocalAddr().String()}
	}
	ln := mustListen(t, s, name, network, addr)
	return opened{ln, ln.Addr().String()}
}

// serve proves o is served by the socket bound at addr.
func (o opened) serve(t *testing.T, network, addr string) {
	t.Helper()
	if pc, ok := o.conn.(net.PacketConn); ok {
		sendTo(t, pc, network, addr)
		return
	}
	roundTrip(t, o.conn.(net.Listener), network, addr)
}

var kinds = []struct {
	name, network string
	addr          string // "" means a socket file in a fresh directory
	ipv6          bool
}{
	{name: "tcp", network: "tcp", addr: "127.0.0.1:0"},
	{name: "tcp4", network: "tcp4", addr: "127.0.0.1:0"},
	{name: "tcp6", network: "tcp6", addr: "[::1]:0", ipv6: true},
	{name: "unix", network: "unix"},
	{name: "udp", network: "udp", addr: "127.0.0.1:0"},
	{name: "udp6", network: "udp6", addr: "[::1]:0", ipv6: true},
	{name: "unixgram", network: "unixgram"},
}

func kindAddr(t *testing.T, addr string) string {
	if addr == "" {
		return filepath.Join(testutil.ShortDir(t), "s")
	}
	return addr
}

func TestHandoffKeepsTheKernelSocket(t *testing.T) {
	for _, tt := range kinds {
		t.Run(tt.name, func(t *testing.T) {
			testutil.CheckLeaks(t)
			if tt.ipv6 {
				needIPv6(t)
			}
			addr := kindAddr(t, tt.addr)
			old := newSet(t)
			o := open(t, old, tt.name, tt.network, addr)
			oldInode := inodeOf(t, o.conn)
			next := handoff(t, old)

			want := []Info{{Name: tt.name, Network: tt.network, Addr: o.bound, Inherited: true}}
			if got := next.List(); !slices.Equal(got, want) {
				t.Errorf("List after Inherit: got %+v; want %+v", got, want)
			}
			// The old process lets go first; the socket must outlive it.
			o.conn.Close()
			if err := old.Close(false); err != nil {
				t.Fatalf("old Close(false): %v", err)
			}
			n := open(t, next, tt.name, tt.network, addr)
			if got := inodeOf(t, n.conn); got != oldInode {
				t.Errorf("socket inode: got %d; want %d (the old process's socket)", got, oldInode)
			}
			if n.bound != o.bound {
				t.Errorf("bound address: got %s; want %s", n.bound, o.bound)
			}
			n.serve(t, tt.network, o.bound)
		})
	}
}

func TestFileHandoff(t *testing.T) {
	testutil.CheckLeaks(t)
	path := filepath.Join(t.TempDir(), "log")
	old := newSet(t)
	f, err := old.File("log", func() (*os.File, error) { return os.Create(path) })
	if err != nil {
		t.Fatalf("File: %v", err)
	}
	oldInode := inodeOf(t, f)
	f.WriteString("a")
	f.Close()
	next := handoff(t, old)
	old.Close(false)

	for range 2 { // the second call gets another dup, not open
		g, err := next.File("log", func() (*os.File, error) { return nil, errors.New("open called for an inherited file") })
		if err != nil {
			t.Fatalf("File on the inherited member: %v", err)
		}
		if got := inodeOf(t, g); got != oldInode {
			t.Errorf("file inode: got %d; want %d", got, oldInode)
		}
		if g.Name() != path {
			t.Errorf("file name: got %q; want %q", g.Name(), path)
		}
		g.WriteString("b") // the offset is shared with the old process's dup
		g.Close()
	}
	if got, _ := os.ReadFile(path); string(got) != "abb" {
		t.Errorf("file content: got %q; want %q", got, "abb")
	}
	want := []Info{{Name: "log", Network: "file", Addr: path, Inherited: true}}
	if got := next.List(); !slices.Equal(got, want) {
		t.Errorf("List: got %+v; want %+v", got, want)
	}
}

func TestClosingAListenerLeavesTheMember(t *testing.T) {
	testutil.CheckLeaks(t)
	old := newSet(t)
	ln1 := mustListen(t, old, "http", "tcp", "127.0.0.1:0")
	addr := ln1.Addr().String()
	ln1.Close()
	ln2 := mustListen(t, old, "http", "tcp", "127.0.0.1:0")
	if got := ln2.Addr().String(); got != addr {
		t.Fatalf("address after closing the first listener: got %s; want %s", got, addr)
	}
	roundTrip(t, ln2, "tcp", addr)

	next := handoff(t, old)
	ln3 := mustListen(t, next, "http", "tcp", "127.0.0.1:0")
	ln2.Close()
	old.Close(false)
	roundTrip(t, ln3, "tcp", addr)
}

func TestPortZeroIsKeptByName(t *testing.T) {
	for _, network := range []string{"tcp", "udp"} {
		t.Run(network, func(t *testing.T) {
			testutil.CheckLeaks(t)
			old := newSet(t)
			o := open(t, old, "svc", network, "127.0.0.1:0")
			next := handoff(t, old)
			o.conn.Close()
			old.Close(false)
			if n := open(t, next, "svc", network, "127.0.0.1:0"); n.bound != o.bound {
				t.Errorf("address in the next set: got %s; want %s", n.bound, o.bound)
			}
		})
	}
}

func TestChangedAddressBindsAFreshSocket(t *testing.T) {
	tests := []struct {
		name, network string
		oldAddr       func(dir string) string
		newAddr       func(dir string) string
		ipv6          bool
	}{
		{
			name: "unix path", network: "unix",
			oldAddr: func(dir string) string { return filepath.Join(dir, "a") },
			newAddr: func(dir string) string { return filepath.Join(dir, "b") },
		},
		{
			name: "tcp IPv4 to IPv6", network: "tcp", ipv6: true,
			oldAddr: func(string) string { return "127.0.0.1:0" },
			newAddr: func(string) string { return "[::1]:0" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testutil.CheckLeaks(t)
			if tt.ipv6 {
				needIPv6(t)
			}
			dir := testutil.ShortDir(t)
			old := newSet(t)
			o := open(t, old, "api", tt.network, tt.oldAddr(dir))
			next := handoff(t, old)
			o.conn.Close()
			old.Close(false)

			n := open(t, next, "api", tt.network, tt.newAddr(dir))
			if n.bound == o.bound {
				t.Fatalf("new address: got %s; want a fresh socket", n.bound)
			}
			checkShadowed(t, next, n.bound, o.bound)
			if err := next.CloseUnclaimed(); err != nil {
				t.Fatalf("CloseUnclaimed: %v", err)
			}
			want := []Info{{Name: "api", Network: tt.network, Addr: n.bound}}
			if got := next.List(); !slices.Equal(got, want) {
				t.Errorf("List after CloseUnclaimed: got %+v; want %+v", got, want)
			}
			if c, err := net.Dial(tt.network, o.bound); err == nil {
				c.Close()
				t.Errorf("dial the old address %s: got a connection; want it closed", o.bound)
			}
			n.serve(t, tt.network, n.bound)
		})
	}
}

// checkShadowed checks that a fresh member and the inherited one of the
// same name are both listed, and that only the fresh one is exported.
func checkShadowed(t *testing.T, s *Set, fresh, inherited string) {
	t.Helper()
	infos := s.List()
	if len(infos) != 2 || infos[0].Addr != fresh || infos[1].Addr != inherited || !infos[1].Inherited {
		t.Errorf("List: got %+v; want the fresh member at %s, then the inherited one at %s", infos, fresh, inherited)
	}
	entries, fds := mustExport(t, s)
	closeFDs(fds)
	if len(entries) != 1 || entries[0].Name != "api" {
		t.Errorf("Export: got %+v; want only the fresh member", entries)
	}
}

func TestListenFindsInheritedSocketsByAddress(t *testing.T) {
	testutil.CheckLeaks(t)
	old := newSet(t)
	o := open(t, old, "systemd-ish", "tcp", "127.0.0.1:0")
	next := handoff(t, old)
	o.conn.Close()
	old.Close(false)

	// A port-0 request names no address: it must not take another's socket.
	other := open(t, next, "other", "tcp", "127.0.0.1:0")
	if other.bound == o.bound {
		t.Fatalf("port-0 request under a new name: got the inherited %s; want a fresh socket", o.bound)
	}
	n := open(t, next, "http", "tcp", o.bound)
	if n.bound != o.bound {
		t.Fatalf("request for %s: got %s", o.bound, n.bound)
	}
	want := []Info{
		{Name: "http", Network: "tcp", Addr: o.bound, Inherited: true},
		{Name: "other", Network: "tcp", Addr: other.bound},
	}
	if got := next.List(); !slices.Equal(got, want) {
		t.Errorf("List: got %+v; want %+v", got, want)
	}
	n.serve(t, "tcp", o.bound)
}

func TestSameNameTwice(t *testing.T) {
	testutil.CheckLeaks(t)
	s := newSet(t)
	ln1 := mustListen(t, s, "http", "tcp", "127.0.0.1:0")
	bound := ln1.Addr().String()
	for _, addr := range []string{"127.0.0.1:0", bound} {
		ln2 := mustListen(t, s, "http", "tcp", addr)
		if got, want := inodeOf(t, ln2), inodeOf(t, ln1); got != want {
			t.Errorf("Listen(%q) again: got socket %d; want the same socket %d", addr, got, want)
		}
	}
	path := filepath.Join(t.TempDir(), "cfg")
	f, err := s.File("cfg", func() (*os.File, error) { return os.Create(path) })
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	conflicts := []struct {
		name string
		call func() error
		want []string
	}{
		{"other port", func() error { _, err := s.Listen("http", "tcp", "127.0.0.1:1"); return err },
			[]string{`listen tcp 127.0.0.1:1 (name "http")`, "already used for tcp 127.0.0.1:0"}},
		{"datagram", func() error { _, err := s.ListenPacket("http", "udp", "127.0.0.1:0"); return err },
			[]string{`listen udp 127.0.0.1:0 (name "http")`, "already used for tcp 127.0.0.1:0"}},
		{"file", func() error { _, err := s.File("http", nil); return err },
			[]string{`file (name "http")`, "already used for tcp 127.0.0.1:0"}},
		{"socket on a file", func() error { _, err := s.Listen("cfg", "tcp", "127.0.0.1:0"); return err },
			[]string{`(name "cfg")`, "already used for file " + path}},
	}
	for _, tt := range conflicts {
		t.Run(tt.name, func(t *testing.T) { wantErrContains(t, tt.call(), tt.want...) })
	}
}

func TestConcurrentRequestsShareOneMember(t *testing.T) {
	testutil.CheckLeaks(t)
	s := newSet(t)
	const n = 8
	var wg sync.WaitGroup
	addrs := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			ln, err := s.Listen("http", "tcp", "127.0.0.1:0")
			if err != nil {
				errs[i] = err
				return
			}
			addrs[i] = ln.Addr().String()
			ln.Close()
			s.List()
			_, fds, err := s.Export()
			closeFDs(fds)
			errs[i] = err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || addrs[i] != addrs[0] {
			t.Errorf("goroutine %d: got %s, %v; want %s, nil", i, addrs[i], errs[i], addrs[0])
		}
	}
}

func TestExportPassesUnclaimedMembersOn(t *testing.T) {
	testutil.CheckLeaks(t)
	old := newSet(t)
	a, b := open(t, old, "a", "tcp", "127.0.0.1:0"), open(t, old, "b", "udp", "127.0.0.1:0")
	next := handoff(t, old)
	open(t, next, "a", "tcp", "127.0.0.1:0") // b stays unclaimed
	entries, fds := mustExport(t, next)
	defer closeFDs(fds)
	want := []Entry{{"a", "tcp", "127.0.0.1:0"}, {"b", "udp", "127.0.0.1:0"}}
	if !slices.Equal(entries, want) {
		t.Fatalf("Export entries: got %+v; want %+v", entries, want)
	}
	for i, c := range []io.Closer{a.conn, b.conn} {
		if got, want := fdInode(t, fds[i]), inodeOf(t, c); got != want {
			t.Errorf("exported %q: got socket %d; want %d", entries[i].Name, got, want)
		}
	}
}

func TestUnixSocketFiles(t *testing.T) {
	for _, network := range []string{"unix", "unixgram"} {
		t.Run(network, func(t *testing.T) {
			testutil.CheckLeaks(t)
			path := filepath.Join(testutil.ShortDir(t), "s")
			old := newSet(t)
			open(t, old, "api", network, path).conn.Close()
			next := handoff(t, old)
			if err := old.Close(false); err != nil {
				t.Fatalf("old Close(false): %v", err)
			}
			wantSocketFile(t, path, true)
			n := open(t, next, "api", network, path)
			n.serve(t, network, path)
			n.conn.Close() // a returned listener never unlinks the file
			wantSocketFile(t, path, true)
			if err := next.Close(true); err != nil {
				t.Fatalf("Close(true): %v", err)
			}
			wantSocketFile(t, path, false)
		})
	}
}

func TestCloseUnclaimedUnlinksSocketFiles(t *testing.T) {
	testutil.CheckLeaks(t)
	path := filepath.Join(testutil.ShortDir(t), "s")
	old := newSet(t)
	open(t, old, "api", "unix", path).conn.Close()
	next := handoff(t, old)
	old.Close(false)
	if err := next.CloseUnclaimed(); err != nil {
		t.Fatalf("CloseUnclaimed: %v", err)
	}
	wantSocketFile(t, path, false)
	if got := next.List(); len(got) != 0 {
		t.Errorf("List after CloseUnclaimed: got %+v; want none", got)
	}
}

// A socket file that another server put in place of ours (it removed
// ours and bound its own, or a directory on the path was swapped) is not
// ours to remove.
func TestReplacedSocketFileIsNotRemoved(t *testing.T) {
	testutil.CheckLeaks(t)
	path := filepath.Join(testutil.ShortDir(t), "s")
	s := newSet(t)
	open(t, s, "api", "unix", path).conn.Close()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	other := New()
	t.Cleanup(func() { other.Close(true) })
	open(t, other, "other", "unix", path).conn.Close()
	if err := s.Close(true); err != nil {
		t.Fatalf("Close(true): %v", err)
	}
	wantSocketFile(t, path, true)
}

func wantSocketFile(t *testing.T, path string, want bool) {
	t.Helper()
	fi, err := os.Lstat(path)
	if got := err == nil && fi.Mode()&os.ModeSocket != 0; got != want {
		t.Errorf("socket file %s exists: got %v (%v); want %v", path, got, err, want)
	}
}

// staleSocketFile leaves a socket file at path that nobody serves, as a
// crashed process does.
func staleSocketFile(t *testing.T, network, path string) {
	t.Helper()
	if network == "unixgram" {
		pc, err := net.ListenPacket(network, path)
		if err != nil {
			t.Fatal(err)
		}
		pc.Close() // Go never unlinks datagram socket files
		return
	}
	ln, err := net.Listen(network, path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
}

func TestStaleSocketFileIsReplaced(t *testing.T) {
	for _, network := range []string{"unix", "unixgram"} {
		t.Run(network, func(t *testing.T) {
			testutil.CheckLeaks(t)
			path := filepath.Join(testutil.ShortDir(t), "s")
			staleSocketFile(t, network, path)
			s := newSet(t)
			open(t, s, "api", network, path).serve(t, network, path)
		})
	}
}

func TestLiveSocketFileIsInUse(t *testing.T) {
	tests := []struct{ name, live, asked string }{
		{"unix", "unix", "unix"},
		{"unixgram", "unixgram", "unixgram"},
		{"unixgram over a live stream socket", "unix", "unixgram"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testutil.CheckLeaks(t)
			path := filepath.Join(testutil.ShortDir(t), "s")
			other := New() // another process's set, still serving
			t.Cleanup(func() { other.Close(false) })
			live := open(t, other, "live", tt.live, path)
			s := newSet(t)
			var err error
			if isPacketNetwork(tt.asked) {
				_, err = s.ListenPacket("api", tt.asked, path)
			} else {
				_, err = s.Listen("api", tt.asked, path)
			}
			if !errors.Is(err, ErrInUse) {
				t.Fatalf("got %v; want ErrInUse", err)
			}
			wantErrContains(t, err, path)
			live.serve(t, tt.live, path)
		})
	}
}

func TestNonSocketFileIsNeverRemoved(t *testing.T) {
	testutil.CheckLeaks(t)
	path := filepath.Join(testutil.ShortDir(t), "s")
	if err := os.WriteFile(path, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newSet(t)
	_, err := s.Listen("api", "unix", path)
	if !errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, ErrInUse) {
		t.Errorf("got %v; want EADDRINUSE and not ErrInUse", err)
	}
	wantErrContains(t, err, "not a socket")
	if got, _ := os.ReadFile(path); string(got) != "keep" {
		t.Errorf("file content: got %q; want %q", got, "keep")
	}

	// A file put where a member's socket was must survive Close(true) too.
	other := filepath.Join(filepath.Dir(path), "t")
	open(t, s, "api", "unix", other)
	os.Remove(other)
	os.WriteFile(other, []byte("keep"), 0o600)
	if err := s.Close(true); err != nil {
		t.Fatalf("Close(true): %v", err)
	}
	if got, _ := os.ReadFile(other); string(got) != "keep" {
		t.Errorf("file content after Close(true): got %q; want %q", got, "keep")
	}
}

func TestInheritIntoClosedSetClosesFDs(t *testing.T) {
	testutil.CheckLeaks(t)
	old := newSet(t)
	open(t, old, "a", "tcp", "127.0.0.1:0").conn.Close()
	entries, fds := mustExport(t, old)
	s := New()
	s.Close(false)
	if err := s.Inherit(entries, fds); !errors.Is(err, ErrClosed) {
		t.Errorf("Inherit into a closed set: got %v; want ErrClosed", err)
	}
	if isOpen(fds[0]) {
		t.Errorf("fd %d: open after a failed Inherit; want closed", fds[0])
	}
	if _, _, err := s.Export(); !errors.Is(err, ErrClosed) {
		t.Errorf("Export on a closed set: got %v; want ErrClosed", err)
	}
}

func TestInheritedNameClash(t *testing.T) {
	testutil.CheckLeaks(t)
	old := newSet(t)
	open(t, old, "a", "tcp", "127.0.0.1:0").conn.Close()
	entries, fds := mustExport(t, old)
	s := newSet(t)
	open(t, s, "a", "udp", "127.0.0.1:0")
	err := s.Inherit(entries, fds)
	wantErrContains(t, err, `inherit "a"`, "already in the set")
	if isOpen(fds[0]) {
		t.Errorf("fd %d: open after a failed Inherit; want closed", fds[0])
	}
	if got := strings.Join(names(s.List()), ","); got != "a" {
		t.Errorf("members: got %q; want just the fresh \"a\"", got)
	}
}

func TestFileWhenTheSetClosesDuringOpen(t *testing.T) {
	testutil.CheckLeaks(t)
	s := newSet(t)
	path := filepath.Join(t.TempDir(), "f")
	_, err := s.File("f", func() (*os.File, error) {
		s.Close(false) // open may use the Set: nothing is locked
		return os.Create(path)
	})
	if !errors.Is(err, ErrClosed) {
		t.Errorf("got %v; want ErrClosed (and the opened file closed)", err)
	}
}

func TestAbstractUnixSocket(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("abstract Unix sockets are Linux-only")
	}
	testutil.CheckLeaks(t)
	name := "@listeners-test-" + strconv.Itoa(os.Getpid())
	old := newSet(t)
	o := open(t, old, "api", "unix", name)
	_, err := newSet(t).Listen("api", "unix", name)
	if !errors.Is(err, ErrInUse) {
		t.Errorf("second bind of %s: got %v; want ErrInUse", name, err)
	}
	next := handoff(t, old)
	o.conn.Close()
	old.Close(true) // nothing to unlink, and the socket lives on in next
	open(t, next, "api", "unix", name).serve(t, "unix", name)
}

func mustListenPacket(t *testing.T, s *Set, name, network, addr string) net.PacketConn {
	t.Helper()
	return mustOpen(t, s.ListenPacket, name, network, addr)
}
