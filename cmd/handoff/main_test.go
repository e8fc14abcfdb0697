//go:build unix

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/handoff-go/handoff/internal/ctlsock"
	"github.com/handoff-go/handoff/internal/testutil"
)

// runCLI runs the command line args as main would, with HANDOFF_CONTROL
// unset.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Setenv("HANDOFF_CONTROL", "")
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		stdout     []string // each must appear
		stderr     []string
		stderrOnce string // must appear exactly once
	}{
		{name: "bare", args: nil, code: exitUsage, stderr: []string{"usage:", "handoff upgrade"}},
		{name: "help", args: []string{"help"}, code: exitOK, stdout: []string{"usage:", "handoff version"}},
		{name: "status -h", args: []string{"status", "-h"}, code: exitOK,
			stdout: []string{"usage: handoff status", "-control PATH", "$HANDOFF_CONTROL", "-json", "exit status:"}},
		{name: "upgrade -h", args: []string{"upgrade", "-h"}, code: exitOK,
			stdout: []string{"-timeout D", "(default 2m0s)", "-wait D", "(default 1m0s)", "3  no answer", "4  the server received"}},
		{name: "stop -h after a flag", args: []string{"stop", "-timeout", "3s", "-h"}, code: exitOK,
			stdout: []string{"-timeout D", "(default 1m0s)", "0  every generation is gone, or nothing served", "1  a generation still runs"}},
		{name: "help stop", args: []string{"help", "stop"}, code: exitOK, stdout: []string{"usage: handoff stop", "-timeout D"}},
		{name: "bad flag", args: []string{"upgrade", "-bogus"}, code: exitUsage,
			stderr: []string{"flag provided but not defined: -bogus", "-wait D"}, stderrOnce: "usage: handoff upgrade"},
		{name: "no control path", args: []string{"status"}, code: exitUsage,
			stderr: []string{"give -control PATH"}, stderrOnce: "usage: handoff status"},
		{name: "extra argument", args: []string{"stop", "-control", "x", "now"}, code: exitUsage,
			stderr: []string{`unexpected argument "now"`}, stderrOnce: "usage: handoff stop"},
		{name: "unknown command", args: []string{"restart"}, code: exitUsage, stderr: []string{`unknown command "restart"`}},
		{name: "version", args: []string{"version"}, code: exitOK, stdout: []string{"handoff ", runtime.Version()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d; want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tc.stderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if n := strings.Count(stderr, tc.stderrOnce); tc.stderrOnce != "" && (n != 1 || stdout != "") {
				t.Errorf("%q %d times on stderr, stdout %q; want once, stdout empty:\n%s", tc.stderrOnce, n, stdout, stderr)
			}
		})
	}
}

// What `handoff stop` makes of a path: nothing there or a stale socket is
// nothing to stop (exit 0); a path that cannot be a server's socket is an
// error naming it (exit 1), never a silent success.
func TestStopPaths(t *testing.T) {
	dir := testutil.ShortDir(t)
	stale := filepath.Join(dir, "stale.sock")
	testutil.StaleSocket(t, stale)
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	long := dir + "/" + strings.Repeat("x", ctlsock.MaxPathLen)
	for _, tc := range []struct {
		name, path string
		code       int
		want       string
	}{
		{name: "no file", path: filepath.Join(dir, "none.sock"), code: exitOK, want: "nothing to stop"},
		{name: "stale socket", path: stale, code: exitOK, want: "nothing to stop"},
		{name: "regular file", path: file, code: exitFailed, want: file + " is a regular file, not a control socket"},
		{name: "directory", path: dir, code: exitFailed, want: dir + " is a directory, not a control socket"},
		{name: "too long", path: long, code: exitFailed, want: "may have at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "stop", "-control", tc.path)
			if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
				t.Errorf("stop -control %s: exit %d\n%s%s\nwant exit %d saying %q", tc.path, code, stdout, stderr, tc.code, tc.want)
			}
		})
	}
}
