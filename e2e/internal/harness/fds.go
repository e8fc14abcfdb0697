//go:build linux

package harness

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

func fdDir(pid int) string { return "/proc/" + strconv.Itoa(pid) + "/fd" }

// FDCount counts pid's open fds; -1 when /proc does not say (it is gone).
func FDCount(pid int) int {
	ents, err := os.ReadDir(fdDir(pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// FDList lists pid's open fds, one "  N -> target" line each, for failure
// messages.
func FDList(pid int) string {
	ents, err := os.ReadDir(fdDir(pid))
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range ents {
		target, _ := os.Readlink(fdDir(pid) + "/" + e.Name())
		fmt.Fprintf(&b, "  %s -> %s\n", e.Name(), target)
	}
	return b.String()
}

// SocketInodes returns the inodes of the sockets pid holds open.
func SocketInodes(pid int) map[string]bool {
	ents, _ := os.ReadDir(fdDir(pid))
	inodes := map[string]bool{}
	for _, e := range ents {
		link, err := os.Readlink(fdDir(pid) + "/" + e.Name())
		if ino, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	return inodes
}
