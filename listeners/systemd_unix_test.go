//go:build unix

package listeners

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/handoff-go/handoff/internal/testutil"
)

// helperEnv makes the test binary act as a socket-activated child instead
// of running tests: systemd's descriptors must sit at fd 3 and up, where
// the test process itself keeps its own.
const helperEnv = "LISTENERS_TEST_HELPER"

const (
	pidSelfEnv = "LISTENERS_TEST_LISTEN_PID_SELF" // the child sets LISTEN_PID to its own pid
	tcpAddrEnv = "LISTENERS_TEST_TCP_ADDR"        // the child claims this address by Listen
)

// helperReport is what the child saw, printed as JSON on its stdout.
type helperReport struct {
	N        int
	Err      string
	Infos    []Info
	EnvLeft  []string // LISTEN_* variables still set afterwards
	Open     []bool   // whether fds 3, 4, ... are still open afterwards
	Claimed  []Info   // List after Listen("http", "tcp", $tcpAddrEnv)
	Accepted bool
}

func runHelper(mode string) int {
	if mode != "systemd" {
		return 2
	}
	if os.Getenv(pidSelfEnv) != "" {
		os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	}
	rep := systemdChild()
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		return 1
	}
	return 0
}

func systemdChild() helperReport {
	var rep helperReport
	s := New()
	defer s.Close(false)
	n, err := s.InheritSystemd()
	rep.N, rep.Infos = n, s.List()
	if err != nil {
		rep.Err = err.Error()
	}
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		if _, ok := os.LookupEnv(k); ok {
			rep.EnvLeft = append(rep.EnvLeft, k)
		}
	}
	for fd := listenFDsStart; fd < listenFDsStart+4; fd++ {
		rep.Open = append(rep.Open, isOpen(fd))
	}
	if addr := os.Getenv(tcpAddrEnv); addr != "" && err == nil {
		rep.Accepted = claimAndAccept(s, addr)
		rep.Claimed = s.List()
	}
	return rep
}

func claimAndAccept(s *Set, addr string) bool {
	ln, err := s.Listen("http", "tcp", addr)
	if err != nil {
		return false
	}
	defer ln.Close()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	a, err := ln.Accept()
	if err == nil {
		a.Close()
	}
	return err == nil
}

// activationFiles opens what a socket unit would pass: a TCP listener, a
// UDP socket, a Unix listener and a plain file, at fds 3 to 6 of a child.
func activationFiles(t *testing.T) ([]*os.File, []Entry) {
	t.Helper()
	s := newSet(t)
	dir := testutil.ShortDir(t)
	open(t, s, "1tcp", "tcp", "127.0.0.1:0")
	open(t, s, "2udp", "udp", "127.0.0.1:0")
	open(t, s, "3unix", "unix", filepath.Join(dir, "s"))
	f, err := s.File("4file", func() (*os.File, error) { return os.Create(filepath.Join(dir, "f")) })
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	entries, fds := mustExport(t, s)
	files := make([]*os.File, len(fds))
	for i, fd := range fds {
		files[i] = os.NewFile(uintptr(fd), entries[i].Name)
		t.Cleanup(func() { files[i].Close() })
	}
	infos := s.List()
	for i := range entries {
		entries[i].Addr = infos[i].Addr // the bound address, as systemd would see it
	}
	return files, entries
}

func runSystemdChild(t *testing.T, files []*os.File, env ...string) helperReport {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	// The race detector sleeps a second at exit unless told not to.
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(os.Environ(), helperEnv+"=systemd", "GORACE="+gorace)
	cmd.Env = append(cmd.Env, env...)
	cmd.ExtraFiles = files
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("child: %v; stderr:\n%s", err, ee.Stderr)
		}
		t.Fatalf("child: %v", err)
	}
	var rep helperReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("child report %q: %v", out, err)
	}
	return rep
}

func TestInheritSystemdInAChild(t *testing.T) {
	testutil.CheckLeaks(t)
	files, ents := activationFiles(t)
	tcp, udp, unixSock := ents[0], ents[1], ents[2]
	rep := runSystemdChild(t, files,
		pidSelfEnv+"=1", "LISTEN_FDS=4", "LISTEN_FDNAMES=web:web:", tcpAddrEnv+"="+tcp.Addr)
	if rep.N != 4 || rep.Err != "" {
		t.Fatalf("InheritSystemd: got %d, %q; want 4, no error", rep.N, rep.Err)
	}
	want := []Info{
		{Name: "LISTEN_FD_5", Network: "unix", Addr: unixSock.Addr, Inherited: true},
		{Name: "LISTEN_FD_6", Network: "file", Inherited: true},
		{Name: "web", Network: "tcp", Addr: tcp.Addr, Inherited: true},
		{Name: "web#2", Network: "udp", Addr: udp.Addr, Inherited: true},
	}
	if !slices.Equal(rep.Infos, want) {
		t.Errorf("List: got %+v; want %+v", rep.Infos, want)
	}
	if len(rep.EnvLeft) != 0 {
		t.Errorf("LISTEN_* left set: got %q; want none", rep.EnvLeft)
	}
	if !rep.Accepted {
		t.Errorf("accept on the systemd socket claimed by address: got none; want one")
	}
	want = slices.Concat(want[:2], []Info{{Name: "http", Network: "tcp", Addr: tcp.Addr, Inherited: true}}, want[3:])
	if !slices.Equal(rep.Claimed, want) {
		t.Errorf("List after Listen by address: got %+v; want %+v", rep.Claimed, want)
	}
}

func TestInheritSystemdIgnoresOtherPids(t *testing.T) {
	testutil.CheckLeaks(t)
	files, _ := activationFiles(t)
	rep := runSystemdChild(t, files, "LISTEN_PID=1", "LISTEN_FDS=4", "LISTEN_FDNAMES=a:b:c:d")
	if rep.N != 0 || rep.Err != "" || len(rep.Infos) != 0 {
		t.Errorf("InheritSystemd: got %d, %q, %+v; want 0, no error, no members", rep.N, rep.Err, rep.Infos)
	}
	if want := []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"}; !slices.Equal(rep.EnvLeft, want) {
		t.Errorf("LISTEN_* left set: got %q; want %q", rep.EnvLeft, want)
	}
}

func TestInheritSystemdRejectsALyingCount(t *testing.T) {
	testutil.CheckLeaks(t)
	files, _ := activationFiles(t)
	rep := runSystemdChild(t, files, pidSelfEnv+"=1", "LISTEN_FDS=9")
	if rep.N != 0 || len(rep.Infos) != 0 {
		t.Errorf("InheritSystemd: got %d, %+v; want 0, no members", rep.N, rep.Infos)
	}
	wantErrContains(t, errors.New(rep.Err), "LISTEN_FDS=9 but fd")
	if want := []bool{true, true, true, true}; !slices.Equal(rep.Open, want) {
		t.Errorf("fds 3-6 open afterwards: got %v; want %v (nothing is closed on a lie)", rep.Open, want)
	}
	if len(rep.EnvLeft) != 0 {
		t.Errorf("LISTEN_* left set: got %q; want none", rep.EnvLeft)
	}
}

func TestInheritSystemdEnvironment(t *testing.T) {
	ours := strconv.Itoa(os.Getpid())
	tests := []struct {
		name     string
		pid, fds string
		wantErr  bool
		wantLeft bool
	}{
		{name: "no LISTEN_PID", pid: "", fds: "2", wantLeft: true},
		{name: "another pid", pid: "1", fds: "2", wantLeft: true},
		{name: "zero fds", pid: ours, fds: "0"},
		{name: "bad count", pid: ours, fds: "two", wantErr: true},
		{name: "negative count", pid: ours, fds: "-1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testutil.CheckLeaks(t)
			t.Setenv("LISTEN_PID", tt.pid)
			t.Setenv("LISTEN_FDS", tt.fds)
			s := newSet(t)
			n, err := s.InheritSystemd()
			if n != 0 || (err != nil) != tt.wantErr {
				t.Errorf("InheritSystemd: got %d, %v; want 0 and error %v", n, err, tt.wantErr)
			}
			if _, left := os.LookupEnv("LISTEN_FDS"); left != tt.wantLeft {
				t.Errorf("LISTEN_FDS still set: got %v; want %v", left, tt.wantLeft)
			}
		})
	}
}

func TestSystemdNames(t *testing.T) {
	tests := []struct {
		list string
		n    int
		want []string
	}{
		{list: "", n: 2, want: []string{"LISTEN_FD_3", "LISTEN_FD_4"}},
		{list: "http:https", n: 2, want: []string{"http", "https"}},
		{list: "http", n: 2, want: []string{"http", "LISTEN_FD_4"}},
		{list: "a::b", n: 3, want: []string{"a", "LISTEN_FD_4", "b"}},
		{list: "demo.socket:demo.socket:demo.socket", n: 3, want: []string{"demo.socket", "demo.socket#2", "demo.socket#3"}},
		{list: "x#2:x:x", n: 3, want: []string{"x#2", "x", "x#3"}},
		{list: "a:b:c", n: 1, want: []string{"a"}},
	}
	for _, tt := range tests {
		if got := systemdNames(tt.list, tt.n); !slices.Equal(got, tt.want) {
			t.Errorf("systemdNames(%q, %d): got %q; want %q", tt.list, tt.n, got, tt.want)
		}
	}
}
