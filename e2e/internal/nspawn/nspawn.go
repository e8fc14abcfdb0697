//go:build linux

// Package nspawn boots this host's own systemd in a throwaway container
// (systemd-nspawn --volatile=yes: a tmpfs root with the host's /usr
// read-only), so that tests can try unit files under a real service
// manager. The container shares the host's network, so servers in it are
// reached on 127.0.0.1 from outside.
//
// systemd is never started without nspawn's isolation: on the host its
// tmpfiles rules would empty /tmp and the host's /etc would start its
// services. nspawn itself runs in cgroup directories of its own, so
// nothing manages the host's root cgroups; Close powers the container off,
// kills what is left and removes those directories.
package nspawn

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/proc"
)

// Config describes a container.
type Config struct {
	Name  string // machine name; also names its cgroup directories
	Dir   string // scratch directory owned by the caller: machine id, console log
	Units string // bound read-write at /etc/systemd/system
	Bin   string // bound at /usr/local/bin
	// Share, if set, is bound read-only at /usr/local/share (which must
	// exist on the host: the container's /usr is read-only, so no mount
	// point can be made there).
	Share   string
	Unified bool // cgroup2 in the container; else the hybrid layout
	// Reaper collects nspawn and every command run in the container (the
	// caller is a child subreaper, so exec.Cmd.Wait may not be used).
	Reaper *proc.Reaper
}

// Machine is a booted container.
type Machine struct {
	cfg     Config
	nspawn  int      // pid of systemd-nspawn, leader of its own process group
	leader  int      // the container's systemd, pid 1 inside
	cgroups []string // directories made for nspawn
	Log     string   // nspawn's console output
	// Degraded lists the units that failed at boot (is-system-running said
	// "degraded"); empty when it said "running".
	Degraded []string
}

// Available says why containers cannot be booted here, or nil.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("not root")
	}
	for _, tool := range []string{"systemd-nspawn", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not installed (apt-get install systemd-container util-linux)", tool)
		}
	}
	if _, err := os.Stat("/usr/lib/systemd/systemd"); err != nil {
		return fmt.Errorf("no systemd in /usr/lib/systemd: %w", err)
	}
	if _, err := cgroupRoots(); err != nil {
		return err
	}
	return nil
}

// Boot starts the container and waits until its systemd has finished
// booting. On error nothing is left running.
func Boot(cfg Config) (*Machine, error) {
	m := &Machine{cfg: cfg, Log: filepath.Join(cfg.Dir, "console.log")}
	if err := m.prepare(); err != nil {
		m.Close()
		return nil, err
	}
	release, err := bootTurn(2 * time.Minute)
	if err != nil {
		m.Close()
		return nil, err
	}
	defer release()
	if err := m.start(); err != nil {
		m.Close()
		return nil, err
	}
	if err := m.waitBooted(30 * time.Second); err != nil {
		m.Close()
		return nil, fmt.Errorf("%w\nconsole:\n%s", err, tailFile(m.Log, 30))
	}
	return m, nil
}

// bootTurn waits up to within for this host's one turn to boot a
// container, and returns what gives it back. Two nspawn processes that set
// up their volatile roots from / at the same moment race in nspawn's own
// mounts ("Failed to move root directory"), as two test binaries side by
// side did. The turn is an abstract Unix socket, so a test binary that
// dies gives it back and leaves no file.
func bootTurn(within time.Duration) (release func(), err error) {
	const name = "@handoff-e2e-nspawn-boot"
	deadline := time.Now().Add(within)
	for {
		ln, err := net.Listen("unix", name)
		if err == nil {
			return func() { ln.Close() }, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			return nil, fmt.Errorf("nspawn: wait for this host's turn to boot a container: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// prepare writes the machine id and masks the unit that would commit it:
// without them systemd runs its first-boot setup, which stops at a prompt.
func (m *Machine) prepare() error {
	id := make([]byte, 16)
	rand.Read(id)
	id[6] = id[6]&0x0f | 0x40 // a version 4 id, as systemd-id128 new makes
	id[8] = id[8]&0x3f | 0x80
	if err := os.WriteFile(m.machineID(), []byte(hex.EncodeToString(id)+"\n"), 0o444); err != nil {
		return fmt.Errorf("nspawn: machine id: %w", err)
	}
	mask := filepath.Join(m.cfg.Units, "systemd-machine-id-commit.service")
	if err := os.Symlink("/dev/null", mask); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("nspawn: mask machine-id-commit: %w", err)
	}
	roots, err := cgroupRoots()
	if err != nil {
		return err
	}
	for _, root := range roots {
		dir := filepath.Join(root, "handoff-nspawn-"+m.cfg.Name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return fmt.Errorf("nspawn: cgroup: %w", err)
		}
		m.cgroups = append(m.cgroups, dir)
	}
	return nil
}

func (m *Machine) machineID() string { return filepath.Join(m.cfg.Dir, "machine-id") }

// cgroupRoots returns the hierarchies nspawn and systemd use on this
// host: the cgroup2 root alone, or on a hybrid host the name=systemd
// hierarchy and the cgroup2 one beside it.
func cgroupRoots() ([]string, error) {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return []string{"/sys/fs/cgroup"}, nil
	}
	var roots []string
	for _, root := range []string{"/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"} {
		if _, err := os.Stat(filepath.Join(root, "cgroup.procs")); err == nil {
			roots = append(roots, root)
		}
	}
	if len(roots) == 0 {
		return nil, errors.New("no cgroup hierarchy for systemd under /sys/fs/cgroup (neither cgroup2 nor name=systemd)")
	}
	return roots, nil
}

// start runs nspawn from a shell that first moves itself into the
// machine's cgroup directories.
func (m *Machine) start() error {
	logf, err := os.OpenFile(m.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("nspawn: %w", err)
	}
	defer logf.Close()
	const script = `for d in $NSPAWN_CGROUPS; do echo $$ > "$d/cgroup.procs" || exit 97; done; exec "$@"`
	args := []string{"-c", script, "sh", "systemd-nspawn",
		"--directory=/", "--volatile=yes", "--register=no", "--keep-unit",
		"--machine=" + m.cfg.Name, "--console=read-only", "--boot",
		"--bind=" + m.cfg.Units + ":/etc/systemd/system",
		"--bind=" + m.cfg.Bin + ":/usr/local/bin",
		"--bind-ro=" + m.machineID() + ":/etc/machine-id"}
	if m.cfg.Share != "" {
		args = append(args, "--bind-ro="+m.cfg.Share+":/usr/local/share")
	}
	cmd := exec.Command("/bin/sh", args...)
	unified := "0"
	if m.cfg.Unified {
		unified = "1"
	}
	cmd.Env = append(cleanEnv(), "NSPAWN_CGROUPS="+strings.Join(m.cgroups, " "),
		"SYSTEMD_NSPAWN_UNIFIED_HIERARCHY="+unified)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Should the test binary die without its cleanups (a signal, a
	// panic elsewhere), SIGTERM makes nspawn power the container off.
	// (The kernel sends it when the forking thread exits; Go's threads
	// outlive the test unless a goroutine locked to one ends.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	pid, err := m.cfg.Reaper.Start(cmd)
	if err != nil {
		return fmt.Errorf("nspawn: start: %w", err)
	}
	m.nspawn = pid
	return nil
}

// cleanEnv is this process's environment without what would confuse
// nspawn or the container: systemd's own protocol variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY", "INVOCATION_ID":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// waitBooted finds the container's systemd and polls is-system-running.
func (m *Machine) waitBooted(within time.Duration) error {
	deadline := time.Now().Add(within)
	state := ""
	for time.Now().Before(deadline) {
		if rec, gone := m.cfg.Reaper.Exited(m.nspawn); gone {
			return fmt.Errorf("nspawn: exited during boot (%v)", rec)
		}
		if m.leader == 0 {
			m.leader = childNamed(m.nspawn, "systemd")
		}
		if m.leader != 0 {
			out, _, _ := m.Run(5*time.Second, "systemctl", "is-system-running")
			state = strings.TrimSpace(out)
			switch state {
			case "running":
				return nil
			case "degraded":
				failed, _, _ := m.Run(5*time.Second, "systemctl", "--failed", "--plain", "--no-legend")
				m.Degraded = strings.Split(strings.TrimSpace(failed), "\n")
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("nspawn: not booted within %v (leader pid %d, is-system-running %q)", within, m.leader, state)
}

// childNamed returns the pid of parent's child whose command is comm.
func childNamed(parent int, comm string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, ok := proc.ReadState(pid)
		if !ok || st.PPID != parent {
			continue
		}
		if b, err := os.ReadFile("/proc/" + e.Name() + "/comm"); err == nil && strings.TrimSpace(string(b)) == comm {
			return pid
		}
	}
	return 0
}

// Leader is the host pid of the container's systemd.
func (m *Machine) Leader() int { return m.leader }

// Close powers the container off, kills it if it does not go within a
// deadline, and removes its cgroup directories and nspawn's runtime
// leftovers. It is safe to call on a machine that never booted.
func (m *Machine) Close() error {
	var errs []error
	if m.nspawn != 0 {
		if err := m.stop(); err != nil {
			errs = append(errs, err)
		}
	}
	for i := len(m.cgroups) - 1; i >= 0; i-- {
		if err := removeCgroup(m.cgroups[i]); err != nil {
			errs = append(errs, err)
		}
	}
	m.cgroups = nil
	for _, dir := range []string{"/run/systemd/nspawn/propagate/" + m.cfg.Name,
		"/run/systemd/nspawn/propagate", "/run/systemd/nspawn", "/run/systemd/nspawn-root"} {
		os.Remove(dir) // only if empty: another container may use them
	}
	return errors.Join(errs...)
}

// sigPoweroff asks systemd to start poweroff.target: SIGRTMIN+4 in
// systemd(1), glibc's SIGRTMIN being 34. machinectl poweroff sends it too.
const sigPoweroff = syscall.Signal(34 + 4)

// stop powers off, then kills: SIGKILL to the container's init ends its
// whole pid namespace, and to nspawn's group ends nspawn. The poweroff is
// a signal to the container's init, not a `systemctl poweroff` run inside
// it: that one needs two processes to start and a bus call to be answered
// within its own deadline, and on a loaded host it could fail unseen,
// leaving the wait below to time out on a container never asked to go.
func (m *Machine) stop() error {
	pid := m.nspawn
	m.nspawn = 0
	if m.leader != 0 {
		if err := syscall.Kill(m.leader, sigPoweroff); err != nil {
			return m.kill(pid, fmt.Errorf("nspawn: ask pid %d to power off: %w", m.leader, err))
		}
	}
	if _, ok := reaped(m.cfg.Reaper, pid, 20*time.Second); ok {
		return nil
	}
	return m.kill(pid, fmt.Errorf("nspawn: the container did not power off within 20s; killed\nconsole:\n%s", tailFile(m.Log, 30)))
}

// kill ends the container and nspawn (pid) by SIGKILL and returns why it
// had to.
func (m *Machine) kill(pid int, why error) error {
	if m.leader != 0 {
		syscall.Kill(m.leader, syscall.SIGKILL)
	}
	syscall.Kill(-pid, syscall.SIGKILL)
	if _, ok := reaped(m.cfg.Reaper, pid, 10*time.Second); !ok {
		return fmt.Errorf("nspawn: pid %d outlived SIGKILL", pid)
	}
	return why
}

// removeCgroup removes dir and the cgroups systemd made under it, deepest
// first, waiting briefly for their last processes to be gone.
func removeCgroup(dir string) error {
	var dirs []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	deadline := time.Now().Add(10 * time.Second)
	for i := len(dirs) - 1; i >= 0; i-- {
		for {
			err := os.Remove(dirs[i])
			if err == nil || errors.Is(err, os.ErrNotExist) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("nspawn: remove cgroup %s: %w", dirs[i], err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}
