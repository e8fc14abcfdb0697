//go:build linux

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestOddcat runs the classic: the child opens the file, the parent prints
// it from the descriptor it was handed.
func TestOddcat(t *testing.T) {
	dir := t.TempDir()
	exe := bins.oddcat
	file := filepath.Join(dir, "greeting.txt")
	if err := os.WriteFile(file, []byte("hello through SCM_RIGHTS\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		arg      string
		code     int
		stdout   string
		stderrRE string
	}{
		{"copies the file", file, 0, "hello through SCM_RIGHTS\n", `got descriptor \d+ for .*greeting.txt from child pid \d+`},
		{"missing file", filepath.Join(dir, "nope"), 1, "", `open .*nope: no such file or directory(.|\n)*child pid \d+ failed \(exit status 1\)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := runExe(t, exe, tc.arg)
			if res.code != tc.code || res.stdout != tc.stdout || !regexp.MustCompile(tc.stderrRE).MatchString(res.stderr) {
				t.Errorf("oddcat %s: exit %d, stdout %q, stderr %q; want exit %d, stdout %q, stderr matching %q",
					filepath.Base(tc.arg), res.code, res.stdout, res.stderr, tc.code, tc.stdout, tc.stderrRE)
			}
		})
	}
}

type runResult struct {
	code           int
	stdout, stderr string
}

// runExe runs exe with args, collecting stdout and stderr apart, and
// reaps it through the reaper.
func runExe(t *testing.T, exe string, args ...string) runResult {
	t.Helper()
	dir := t.TempDir()
	outPath, errPath := filepath.Join(dir, "out"), filepath.Join(dir, "err")
	outF, _ := os.Create(outPath)
	errF, _ := os.Create(errPath)
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = outF, errF
	pid, err := reaper.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	outF.Close()
	errF.Close()
	rec := waitGone(t, pid, 30*time.Second)
	stdout, _ := os.ReadFile(outPath)
	stderr, _ := os.ReadFile(errPath)
	return runResult{code: rec.Status.ExitStatus(), stdout: string(stdout), stderr: strings.TrimSpace(string(stderr))}
}
