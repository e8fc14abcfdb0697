//go:build unix

package listeners

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// listenFDsStart is the first descriptor systemd passes.
const listenFDsStart = 3 // SD_LISTEN_FDS_START

func (s *Set) inheritSystemd() (int, error) {
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	if err != nil || pid != os.Getpid() {
		return 0, nil // not for us: leave the environment to its owner
	}
	// Like sd_listen_fds(1): unset even on error, so no child inherits
	// variables that describe descriptors it does not have.
	defer unsetListenEnv()
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("listeners: systemd: bad LISTEN_FDS %q", os.Getenv("LISTEN_FDS"))
	}
	fds, err := systemdFDs(n)
	if err != nil {
		return 0, err
	}
	entries, err := systemdEntries(fds, os.Getenv("LISTEN_FDNAMES"))
	if err != nil {
		closeFDs(fds) // systemdFDs proved them ours
		return 0, err
	}
	if err := s.inherit(entries, fds); err != nil {
		return 0, err
	}
	return n, nil
}

func unsetListenEnv() {
	for _, k := range [...]string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(k)
	}
}

// systemdFDs returns the n passed descriptors after checking that each
// came through exec: a descriptor there with close-on-exec set was opened
// by this process (the Go runtime, say), so LISTEN_FDS lies and nothing
// in that range is safe to take or close.
func systemdFDs(n int) ([]int, error) {
	fds := make([]int, 0, n)
	for fd := listenFDsStart; fd < listenFDsStart+n; fd++ {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil {
			return nil, fmt.Errorf("listeners: systemd: LISTEN_FDS=%d but fd %d: %w", n, fd, err)
		}
		if flags&unix.FD_CLOEXEC != 0 {
			return nil, fmt.Errorf("listeners: systemd: LISTEN_FDS=%d but fd %d is close-on-exec, so not inherited (already taken?)", n, fd)
		}
		fds = append(fds, fd)
	}
	return fds, nil
}

// systemdEntries describes each fd from the socket itself: systemd says
// only names.
func systemdEntries(fds []int, fdNames string) ([]Entry, error) {
	names := systemdNames(fdNames, len(fds))
	entries := make([]Entry, len(fds))
	for i, fd := range fds {
		si, err := probe(fd)
		if err != nil {
			return nil, fmt.Errorf("listeners: systemd %q: %w", names[i], err)
		}
		entries[i] = Entry{Name: names[i], Network: si.networkOf(), Addr: sockaddrString(si.local)}
	}
	return entries, nil
}

// systemdNames gives n unique names from LISTEN_FDNAMES. systemd names
// every fd of a unit after the unit unless told otherwise, so repeats are
// normal: the first keeps the name, later ones get "#2", "#3"...
func systemdNames(list string, n int) []string {
	var given []string
	if list != "" {
		given = strings.Split(list, ":")
	}
	used := make(map[string]bool, n)
	names := make([]string, n)
	for i := range names {
		name := ""
		if i < len(given) {
			name = given[i]
		}
		if name == "" {
			name = "LISTEN_FD_" + strconv.Itoa(listenFDsStart+i)
		}
		unique := name
		for k := 2; used[unique]; k++ {
			unique = name + "#" + strconv.Itoa(k)
		}
		used[unique] = true
		names[i] = unique
	}
	return names
}
