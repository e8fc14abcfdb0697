package upgrader

import (
	"bytes"
	"os"
	"strconv"
	"syscall"

	"github.com/handoff-go/handoff/control"
)

// observe looks pid up: ok when it runs (a zombie counts as gone) as this
// process's user; the Peer carries its start time.
func observe(pid int) (control.Peer, bool) {
	if pid <= 0 {
		return control.Peer{}, false
	}
	dir := "/proc/" + strconv.Itoa(pid)
	fi, err := os.Stat(dir)
	if err != nil {
		return control.Peer{}, false
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Geteuid() {
		return control.Peer{}, false
	}
	start, running := procStat(dir)
	if !running {
		return control.Peer{}, false
	}
	return control.Peer{PID: pid, Start: start}, true
}

// alive reports whether p still runs: the same pid with the same start
// time, not a zombie.
func alive(p control.Peer) bool {
	start, running := procStat("/proc/" + strconv.Itoa(p.PID))
	return running && (p.Start == 0 || start == p.Start)
}

// procStat reads a process's state and start time from its stat file
// (proc(5): the state is the field after the parenthesised name, the
// start time the 22nd field).
func procStat(dir string) (start uint64, running bool) {
	b, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return 0, false
	}
	// The name may itself hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	fields := bytes.Fields(b[i+1:])
	if len(fields) < 20 || fields[0][0] == 'Z' || fields[0][0] == 'X' {
		return 0, false
	}
	start, err = strconv.ParseUint(string(fields[19]), 10, 64)
	return start, err == nil
}
