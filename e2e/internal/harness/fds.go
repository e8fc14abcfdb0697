//go:build linux

package harness

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/handoff-go/handoff/internal/testutil"
	"golang.org/x/sys/unix"
)

func fdDir(pid int) string { return "/proc/" + strconv.Itoa(pid) + "/fd" }

// FDCount counts pid's open fds; -1 when /proc does not say (it is gone).
func FDCount(pid int) int {
	fds, err := testutil.OpenFDs(pid)
	if err != nil {
		return -1
	}
	return len(fds)
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

// CloseInheritedOnExec marks every fd of this process above stderr
// close-on-exec. An fd it inherited without the flag (flock(1)'s lock, a
// shell's) would otherwise pass on to every process it starts, and count
// as one of a server's own fds.
func CloseInheritedOnExec() error {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		// The directory's own fd is closed by now: EBADF.
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); err != nil && !errors.Is(err, unix.EBADF) {
			return fmt.Errorf("mark fd %d close-on-exec: %w", fd, err)
		}
	}
	return nil
}
