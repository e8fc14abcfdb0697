//go:build linux

package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/handoff-go/handoff/internal/procfs"
	"github.com/handoff-go/handoff/upgrader"
)

func TestParseListen(t *testing.T) {
	tests := []struct {
		in   string
		want listenSpec
		err  string
	}{
		{in: "http=tcp://127.0.0.1:8080", want: listenSpec{"http", "tcp", "127.0.0.1:8080"}},
		{in: "v6=tcp6://[::1]:0", want: listenSpec{"v6", "tcp6", "[::1]:0"}},
		{in: "sock=unix:///run/app.sock", want: listenSpec{"sock", "unix", "/run/app.sock"}},
		{in: "dns=udp://127.0.0.1:53", want: listenSpec{"dns", "udp", "127.0.0.1:53"}},
		{in: "tcp://127.0.0.1:80", err: "not NAME=NETWORK://ADDR"},
		{in: "=tcp://127.0.0.1:80", err: "1 to 255 characters"},
		{in: "a:b=tcp://127.0.0.1:80", err: "without spaces or ':'"},
		{in: "http=127.0.0.1:80", err: "want NETWORK://ADDR"},
		{in: "http=tcp://", err: "want NETWORK://ADDR"},
		{in: "http=sctp://127.0.0.1:80", err: `unknown network "sctp"`},
		{in: "http=tcp://127.0.0.1", err: "lacks a port"},
		{in: "http=tcp://127.0.0.1:99999", err: `bad port "99999"`},
		{in: "handoff-control=tcp://127.0.0.1:80", err: "control socket"},
	}
	for _, tc := range tests {
		got, err := parseListen(tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("parseListen(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("parseListen(%q) error %v; want one saying %q", tc.in, err, tc.err)
		}
	}
}

func TestParseRunUsage(t *testing.T) {
	tests := []struct {
		args []string
		err  string
	}{
		{[]string{"-listen", "a=tcp://127.0.0.1:0"}, "no PROGRAM"},
		{[]string{"-listen", "a=tcp://127.0.0.1:0", "-listen", "a=tcp://127.0.0.1:1", "x"}, `name "a" given twice`},
		{[]string{"-stop-signal", "BOGUS", "x"}, `unknown signal "BOGUS"`},
		{[]string{"-drain-timeout", "0s", "x"}, "-drain-timeout must be positive"},
		{[]string{"-max-draining", "0", "x"}, "-max-draining at least 1"},
		{[]string{"-probation", "-1s", "x"}, "-probation must not be negative"},
	}
	for _, tc := range tests {
		_, err := parseRun(tc.args, io.Discard)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("parseRun(%q): %v; want a usage error saying %q", tc.args, err, tc.err)
		}
	}
	cfg, err := parseRun([]string{"-listen", "a=tcp://127.0.0.1:0", "-stop-signal", "SIGQUIT", "--", "prog", "-x", "y"}, io.Discard)
	if err != nil || cfg.program != "prog" || strings.Join(cfg.args, " ") != "-x y" || cfg.stopSignal != syscall.SIGQUIT {
		t.Fatalf("parseRun: %+v, %v; want prog -x y stopped by SIGQUIT", cfg, err)
	}
	if cfg.probation != upgrader.DefaultProbation {
		t.Errorf("-probation by default: %v; want upgrader.DefaultProbation %v", cfg.probation, upgrader.DefaultProbation)
	}
}

func TestParseNotice(t *testing.T) {
	nt := parseNotice(7, []byte("READY=1\nSTATUS=serving \x1b[31mred\x00\nFOO=bar\nSTOPPING=1"))
	if !nt.ready || !nt.stopping || !nt.hasState || nt.status != "serving [31mred" || nt.pid != 7 {
		t.Fatalf("parseNotice: %+v; want ready, stopping, status without control bytes", nt)
	}
	if nt := parseNotice(7, []byte("READY=10\nXSTATUS=x")); nt.ready || nt.hasState {
		t.Fatalf("parseNotice of near misses: %+v; want nothing recognised", nt)
	}
	if got := printable(strings.Repeat("é", 300)); len(got) > 256 || !strings.HasPrefix(got, "éé") || strings.ContainsRune(got, '\uFFFD') {
		t.Fatalf("printable of a long status: %d bytes %q; want at most 256 bytes of whole runes", len(got), got)
	}
}

func TestCgroupDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hybrid := write("hybrid", "35 25 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"+
		"36 25 0:31 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw\n")
	nested := write("nested", "40 30 0:29 /system.slice/a\\040b.service /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n")
	none := write("none", "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n")
	tests := []struct {
		mountinfo, rel, want, err string
	}{
		{mountinfo: hybrid, rel: "/system.slice/demo-run.service", want: "/sys/fs/cgroup/unified/system.slice/demo-run.service"},
		{mountinfo: hybrid, rel: "/", want: "/sys/fs/cgroup/unified"},
		{mountinfo: nested, rel: "/system.slice/a b.service/x", want: "/sys/fs/cgroup/x"},
		{mountinfo: nested, rel: "/system.slice/other.service", err: "not under any mounted cgroup2"},
		{mountinfo: none, rel: "/", err: "no cgroup2 hierarchy is mounted"},
	}
	for _, tc := range tests {
		got, err := cgroupDir(tc.mountinfo, tc.rel)
		if tc.err == "" && (err != nil || got != tc.want) || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("cgroupDir(%s, %q) = %q, %v; want %q or an error saying %q", filepath.Base(tc.mountinfo), tc.rel, got, err, tc.want, tc.err)
		}
	}
	for in, want := range map[string]string{"0::/a/b\n": "/a/b", "12:pids:/x\n0::/\n": "/", "1:name=systemd:/x\n": ""} {
		got, err := cgroupPath(write("cgroup", in))
		if got != want || (want == "") != (err != nil) {
			t.Errorf("cgroupPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestRateLog: a burst passes, the rest of the window is counted, and the
// summary carries the count and the latest line, once.
func TestRateLog(t *testing.T) {
	var r rateLog
	type summary struct {
		n      int
		latest string
	}
	sums := make(chan summary, 4)
	report := func(n int, latest string) { sums <- summary{n, latest} }
	now := time.Now()
	passed := 0
	for i := range 1000 {
		if r.allow(now, "line "+strconv.Itoa(i), report) {
			passed++
		}
	}
	if passed != statusBurst {
		t.Fatalf("%d of 1000 lines passed in one window; want %d", passed, statusBurst)
	}
	select {
	case got := <-sums:
		if got != (summary{1000 - statusBurst, "line 999"}) {
			t.Fatalf("summary %+v; want %d suppressed, latest line 999", got, 1000-statusBurst)
		}
	case <-time.After(10 * statusWindow):
		t.Fatal("no summary of the suppressed lines")
	}
	if !r.allow(time.Now().Add(2*statusWindow), "later", report) {
		t.Error("a line in a later window was held back")
	}
	select {
	case got := <-sums:
		t.Errorf("a second summary %+v with nothing suppressed", got)
	default:
	}
}

// TestAttribution: a process belongs to the generation of its nearest
// known ancestor; one the supervisor inherited unseen goes to the
// generation whose child leads its group, else the newest whose child
// exited, else the newest that started before it.
func TestAttribution(t *testing.T) {
	const self = 100
	old, cur := newChild(200, 1000, nil), newChild(300, 2000, nil)
	old.reaped = true
	byPID := map[int]procfs.Stat{}
	for _, st := range []procfs.Stat{
		{PID: 300, PPID: self, PGRP: 300, Start: 2000, State: 'S'},
		{PID: 301, PPID: 300, PGRP: 301, Start: 2001, State: 'S'}, // setsid
		{PID: 302, PPID: 301, PGRP: 301, Start: 2002, State: 'S'},
		{PID: 400, PPID: 1, PGRP: 400, Start: 10, State: 'S'}, // not the supervisor's
	} {
		byPID[st.PID] = st
	}
	owner := map[int]*child{300: cur}
	if got := ownerOf(byPID[302], byPID, owner, self); got != cur || owner[301] != cur || cur.known[302] != 2002 {
		t.Errorf("ownerOf(302): %v, owner of 301 %v, known %v; want child 300's generation all the way", got, owner[301], cur.known)
	}
	if got := ownerOf(byPID[400], byPID, owner, self); got != nil {
		t.Errorf("ownerOf(400) = child %d; want none", got.pid)
	}
	gens := []*child{old, cur}
	for _, tc := range []struct {
		name string
		st   procfs.Stat
		want *child
	}{
		{"in the old child's group", procfs.Stat{PID: 500, PPID: self, PGRP: 200, Start: 2500}, old},
		{"own session, after both started", procfs.Stat{PID: 501, PPID: self, PGRP: 501, Start: 2500}, old},
		{"started before the current child", procfs.Stat{PID: 502, PPID: self, PGRP: 502, Start: 1500}, old},
		{"started before any child", procfs.Stat{PID: 503, PPID: self, PGRP: 503, Start: 5}, nil},
	} {
		if got := attributeOrphan(tc.st, gens); got != tc.want {
			t.Errorf("%s: attributeOrphan = %v; want %v", tc.name, got, tc.want)
		}
	}
	old.reaped = false
	if got := attributeOrphan(procfs.Stat{PID: 504, PPID: self, PGRP: 504, Start: 2500}, gens); got != cur {
		t.Errorf("no child exited: attributeOrphan = %v; want the newest generation", got)
	}
}

// TestRemoveStaleGroups: the empty groups of a supervisor that is gone
// are removed; a live one's, one holding something, and others' stay.
func TestRemoveStaleGroups(t *testing.T) {
	dir := t.TempDir()
	dead, live := groupPrefix+"1073741824.1", groupPrefix+strconv.Itoa(os.Getpid())+".1"
	busy, other := groupPrefix+"1073741824.2", "system.slice"
	for _, name := range []string{dead, live, busy, other} {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, busy, "cgroup.procs"), []byte("1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	(&cgroupParent{dir: dir}).removeStale()
	for name, want := range map[string]bool{dead: false, live: true, busy: true, other: true} {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != want {
			t.Errorf("%s after removeStale: %v; want it kept %v", name, err, want)
		}
	}
}
