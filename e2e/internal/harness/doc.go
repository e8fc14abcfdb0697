// Package harness is what the e2e tests and the bench share to drive real
// processes: building the binaries once, starting them through the
// reaper of e2e/internal/proc, killing their process groups, polling with
// deadlines, counting and listing a process's fds, and finding free
// loopback addresses. Its functions take what they work on as arguments
// and return errors; the tests wrap them with testing.T, the bench with
// its own bookkeeping.
//
// It needs /proc, process groups and a child subreaper: Linux only.
package harness
