//go:build linux

package nspawn

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/harness"
	"github.com/handoff-go/handoff/e2e/internal/proc"
)

// Version returns the major version of this host's systemd (the one the
// containers boot) and the line it printed.
func Version(reaper *proc.Reaper) (int, string, error) {
	out, code, err := run(reaper, 10*time.Second, "/usr/lib/systemd/systemd", "--version")
	if err == nil && code != 0 {
		err = fmt.Errorf("exit %d", code)
	}
	if err != nil {
		return 0, "", fmt.Errorf("nspawn: systemd --version: %w: %s", err, out)
	}
	line, _, _ := strings.Cut(out, "\n")
	var v int
	if _, err := fmt.Sscanf(line, "systemd %d", &v); err != nil {
		return 0, line, fmt.Errorf("nspawn: systemd --version: %q: %w", line, err)
	}
	return v, line, nil
}

// Run runs a command inside the container (nsenter into every namespace
// of its systemd) and returns its combined output and exit code. A
// command still running after timeout is killed and reported as an error.
func (m *Machine) Run(timeout time.Duration, args ...string) (string, int, error) {
	return run(m.cfg.Reaper, timeout, append([]string{"nsenter", "-t", strconv.Itoa(m.leader), "-a"}, args...)...)
}

// run runs a command on the host, as Run does in the container.
func run(reaper *proc.Reaper, timeout time.Duration, args ...string) (string, int, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return "", -1, fmt.Errorf("nspawn: run %v: %w", args, err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pid, err := reaper.Start(cmd)
	w.Close()
	if err != nil {
		r.Close()
		return "", -1, fmt.Errorf("nspawn: run %v: %w", args, err)
	}
	out := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(r); r.Close(); out <- b }()
	var b []byte
	select {
	case b = <-out:
	case <-time.After(timeout):
		syscall.Kill(-pid, syscall.SIGKILL)
		b = <-out
		reaped(reaper, pid, 5*time.Second)
		return string(b), -1, fmt.Errorf("nspawn: %v still running after %v; killed", args, timeout)
	}
	ws, ok := reaped(reaper, pid, 5*time.Second)
	switch {
	case !ok:
		syscall.Kill(-pid, syscall.SIGKILL)
		return string(b), -1, fmt.Errorf("nspawn: %v closed its output but did not exit", args)
	case !ws.Exited():
		return string(b), -1, fmt.Errorf("nspawn: %v: %v", args, proc.Exit{Status: ws})
	}
	return string(b), ws.ExitStatus(), nil
}

// reaped waits until the reaper has collected pid, and forgets it.
func reaped(reaper *proc.Reaper, pid int, within time.Duration) (syscall.WaitStatus, bool) {
	rec, err := harness.WaitExit(reaper, pid, within)
	if err != nil {
		return 0, false
	}
	reaper.Forget(pid)
	return rec.Status, true
}

// Systemctl runs systemctl in the container with a 2-minute bound.
func (m *Machine) Systemctl(args ...string) (string, int, error) {
	return m.Run(2*time.Minute, append([]string{"systemctl"}, args...)...)
}

// Show returns unit properties (systemctl show -p ...).
func (m *Machine) Show(unit string, props ...string) (map[string]string, error) {
	args := []string{"show", unit}
	for _, p := range props {
		args = append(args, "-p", p)
	}
	out, code, err := m.Systemctl(args...)
	if err == nil && code != 0 {
		err = fmt.Errorf("nspawn: systemctl show %s: exit %d: %s", unit, code, out)
	}
	if err != nil {
		return nil, err
	}
	vals := map[string]string{}
	s := bufio.NewScanner(strings.NewReader(out))
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), "="); ok {
			vals[k] = v
		}
	}
	return vals, nil
}

// HostPID maps a pid as the container sees it to the host's pid, or 0.
func (m *Machine) HostPID(pid int) int {
	want, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", m.leader))
	if err != nil {
		return 0
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		host, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ns, _ := os.Readlink("/proc/" + e.Name() + "/ns/pid"); ns != want {
			continue
		}
		if inner, ok := nsPID(host); ok && inner == pid {
			return host
		}
	}
	return 0
}

// nsPID reads the innermost pid of host pid from /proc/PID/status (NSpid).
func nsPID(host int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", host))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				return 0, false
			}
			pid, err := strconv.Atoi(f[len(f)-1])
			return pid, err == nil
		}
	}
	return 0, false
}

// Journal returns the container's journal for unit (short format).
func (m *Machine) Journal(unit string) string {
	out, _, _ := m.Run(30*time.Second, "journalctl", "--no-pager", "-q", "-u", unit)
	return out
}

// tailFile is the last lines of the file at path.
func tailFile(path string, lines int) string {
	b, _ := os.ReadFile(path)
	return harness.Tail(string(b), lines)
}
