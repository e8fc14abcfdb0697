package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/handoff-go/handoff/internal/procfs"
)

// cgroupParent is the supervisor's own cgroup v2 directory, under which
// each generation gets a group of its own: every process a child starts
// stays in it whatever it does (setsid, double fork), so the group is the
// generation.
type cgroupParent struct {
	dir string
}

// cgroupGroup is one generation's cgroup. fd is an open directory for
// CLONE_INTO_CGROUP, owned by the group and closed by remove.
type cgroupGroup struct {
	dir string
	fd  int
}

// ownCgroup finds the supervisor's cgroup v2 directory and says whether
// it may make groups in it: a cgroup that systemd made for a unit is
// systemd's unless the unit delegates it (Delegate=yes).
func ownCgroup() (*cgroupParent, error) {
	rel, err := cgroupPath("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	dir, err := cgroupDir("/proc/self/mountinfo", rel)
	if err != nil {
		return nil, err
	}
	if base := filepath.Base(rel); (strings.HasSuffix(base, ".service") || strings.HasSuffix(base, ".scope")) && !delegated(dir) {
		return nil, fmt.Errorf("cgroup %s is systemd's and not delegated to this unit (Delegate=yes)", rel)
	}
	return &cgroupParent{dir: dir}, nil
}

// cgroupPath reads this process's cgroup v2 path ("0::/a/b").
func cgroupPath(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("cgroup: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok && strings.HasPrefix(rest, "/") {
			return strings.TrimSuffix(rest, " (deleted)"), nil
		}
	}
	return "", errors.New("cgroup: this process is in no cgroup v2 hierarchy")
}

// cgroupDir finds where rel is mounted, from a mountinfo file.
func cgroupDir(mountinfo, rel string) (string, error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return "", fmt.Errorf("cgroup: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	mounted := false
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, fl := range fields {
			if fl == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || sep+1 >= len(fields) || fields[sep+1] != "cgroup2" {
			continue
		}
		mounted = true
		root, point := unescapeMount(fields[3]), unescapeMount(fields[4])
		if root == "/" {
			return filepath.Join(point, rel), nil
		}
		if rel == root || strings.HasPrefix(rel, root+"/") {
			return filepath.Join(point, strings.TrimPrefix(rel, root)), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("cgroup: %s: %w", mountinfo, err)
	}
	if !mounted {
		return "", errors.New("cgroup: no cgroup2 hierarchy is mounted")
	}
	return "", fmt.Errorf("cgroup: %s is not under any mounted cgroup2", rel)
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// delegated reports systemd's mark on a cgroup it handed over.
func delegated(dir string) bool {
	for _, attr := range []string{"trusted.delegate", "user.delegate"} {
		buf := make([]byte, 8)
		if n, err := unix.Getxattr(dir, attr, buf); err == nil && string(buf[:n]) == "1" {
			return true
		}
	}
	return false
}

// groupPrefix starts the name of every generation's cgroup; the
// supervisor's pid and a sequence number follow.
const groupPrefix = "handoff-run."

// removeStale removes the empty groups that supervisors which are gone
// (killed before they could) left in p. The kernel removes a cgroup only
// once it is empty, and a live supervisor's groups are left alone.
func (p *cgroupParent) removeStale() {
	ents, err := os.ReadDir(p.dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), groupPrefix)
		owner, _, _ := strings.Cut(rest, ".")
		pid, err := strconv.Atoi(owner)
		if !ok || !e.IsDir() || err != nil || pid <= 0 {
			continue
		}
		if st, err := procfs.ReadStat(pid); err == nil && st.Running() {
			continue
		}
		unix.Rmdir(filepath.Join(p.dir, e.Name()))
	}
}

// newGroup makes the group name under p.
func (p *cgroupParent) newGroup(name string) (*cgroupGroup, error) {
	dir := filepath.Join(p.dir, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("cgroup: open %s: %w", dir, err)
	}
	return &cgroupGroup{dir: dir, fd: fd}, nil
}

// procs lists the processes in the group; none once it is removed.
func (g *cgroupGroup) procs() []int {
	b, err := os.ReadFile(filepath.Join(g.dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range bytes.Fields(b) {
		if pid, err := strconv.Atoi(string(f)); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// kill SIGKILLs everything in the group: at once through cgroup.kill
// (Linux 5.14), else pid by pid (the caller repeats until it is empty,
// for what forked meanwhile).
func (g *cgroupGroup) kill() {
	err := os.WriteFile(filepath.Join(g.dir, "cgroup.kill"), []byte("1"), 0)
	if err == nil {
		return
	}
	for _, pid := range g.procs() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// remove closes the group's fd and removes it, which the kernel allows
// only once it is empty.
func (g *cgroupGroup) remove() error {
	if g.fd >= 0 {
		unix.Close(g.fd)
		g.fd = -1
	}
	if err := unix.Rmdir(g.dir); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("cgroup: remove %s: %w", g.dir, err)
	}
	return nil
}
