//go:build !linux

package upgrader

// observe looks pid up; without /proc there is no start time to tell a
// reused pid apart, nor a cheap way to see a zombie or the process's user.
func observe(pid int) (Peer, bool) {
	if pid <= 0 || !processRuns(pid) {
		return Peer{}, false
	}
	return Peer{PID: pid}, true
}

func (p Peer) alive() bool { return p.PID > 0 && processRuns(p.PID) }
