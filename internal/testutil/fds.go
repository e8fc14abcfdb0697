package testutil

import (
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// leakWait is how long CheckLeaks lets descriptors and goroutines that are
// on their way out take to go.
var leakWait = 5 * time.Second

// OpenFDs returns the open descriptors of pid (0 for this process), each
// with what it refers to, as /proc lists them; an error where it does not.
func OpenFDs(pid int) (map[int]string, error) {
	dir := "/proc/self/fd"
	if pid != 0 {
		dir = "/proc/" + strconv.Itoa(pid) + "/fd"
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	fds := make(map[int]string, len(ents))
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		target, lerr := os.Readlink(dir + "/" + e.Name())
		if err == nil && lerr == nil { // else closed since: ReadDir's own, say
			fds[fd] = target
		}
	}
	return fds, nil
}

// FDList describes pid's open descriptors (0 for this process), one
// "fd -> target" a line, for a failure message.
func FDList(pid int) string {
	fds, err := OpenFDs(pid)
	if err != nil {
		return err.Error()
	}
	return describe(fds, slices.Sorted(maps.Keys(fds)))
}

func describe(fds map[int]string, which []int) string {
	var b strings.Builder
	for _, fd := range which {
		fmt.Fprintf(&b, "  %d -> %s\n", fd, fds[fd])
	}
	return b.String()
}

// CheckLeaks fails t if it ends with descriptors open that were not open
// when CheckLeaks was called, with any of those closed, or with goroutines
// running that were started after it was called; it gives what is on its
// way out a few seconds to go. Call it first in a test, so that its cleanup
// runs after every other, and not in parallel tests. Where /proc is absent
// only goroutines are checked.
func CheckLeaks(t testing.TB) {
	t.Helper()
	before, fdErr := OpenFDs(0)
	_, running := goroutines(nil)
	t.Cleanup(func() {
		var report string
		err := Poll(leakWait, func() error {
			report = ""
			if fdErr == nil {
				report = fdChanges(before)
			}
			if started, _ := goroutines(running); len(started) > 0 {
				report += fmt.Sprintf("goroutines: %d started during the test still run:\n%s",
					len(started), strings.Join(started[:min(len(started), 10)], "\n\n"))
			}
			if report != "" {
				return fmt.Errorf("leak")
			}
			return nil
		})
		if err != nil {
			t.Errorf("%v:\n%s", err, report)
		}
	})
}

// goroutines returns the stacks of the running goroutines not in before
// (ids are never reused, so these were started since), and the ids of all
// of them.
func goroutines(before map[int]bool) (started []string, ids map[int]bool) {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	ids = make(map[int]bool)
	for _, g := range strings.Split(string(buf), "\n\n") {
		// Each starts "goroutine 17 [chan receive]:".
		f := strings.Fields(g)
		if len(f) < 2 || f[0] != "goroutine" {
			continue
		}
		id, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		ids[id] = true
		if before != nil && !before[id] {
			started = append(started, g)
		}
	}
	return started, ids
}

// fdChanges describes how this process's descriptors differ from before.
func fdChanges(before map[int]string) string {
	after, err := OpenFDs(0)
	if err != nil {
		return fmt.Sprintf("listing fds: %v\n", err)
	}
	var opened, closed []int
	for fd, target := range after {
		if was, ok := before[fd]; !ok || was != target {
			opened = append(opened, fd)
		}
	}
	for fd, target := range before {
		if now, ok := after[fd]; !ok || now != target {
			closed = append(closed, fd)
		}
	}
	var b strings.Builder
	if len(opened) > 0 {
		slices.Sort(opened)
		fmt.Fprintf(&b, "%d fds opened and not closed:\n%s", len(opened), describe(after, opened[:min(len(opened), 20)]))
	}
	if len(closed) > 0 {
		slices.Sort(closed)
		fmt.Fprintf(&b, "%d fds closed that were open before:\n%s", len(closed), describe(before, closed))
	}
	return b.String()
}
