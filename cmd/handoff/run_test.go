//go:build linux

package main

import (
	"errors"
	"io"
	"strings"
	"syscall"
	"testing"
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
