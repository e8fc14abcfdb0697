//go:build !linux

package upgrader

import "github.com/handoff-go/handoff/control"

// observe looks pid up; without /proc there is no start time to tell a
// reused pid apart, nor a cheap way to see a zombie or the process's user.
func observe(pid int) (control.Peer, bool) {
	if pid <= 0 || !processRuns(pid) {
		return control.Peer{}, false
	}
	return control.Peer{PID: pid}, true
}

func alive(p control.Peer) bool { return p.PID > 0 && processRuns(p.PID) }
