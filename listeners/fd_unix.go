//go:build unix

package listeners

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

var errNotSyscallConn = errors.New("no access to the descriptor (not a syscall.Conn)")

// dupConn returns a close-on-exec dup of the descriptor behind c, owned by
// the caller. It goes through SyscallConn().Control because Fd() and
// File() switch a socket to blocking mode, and that mode is shared with
// every process holding the socket.
func dupConn(c any) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1, errNotSyscallConn
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	nfd, dupErr := -1, error(nil)
	if err := rc.Control(func(fd uintptr) { nfd, dupErr = dupFD(int(fd)) }); err != nil {
		return -1, err
	}
	if dupErr != nil {
		return -1, fmt.Errorf("dup: %w", dupErr)
	}
	return nfd, nil
}

// closeFDs closes every distinct non-negative fd once: closing a number
// twice could close a descriptor someone opened in between.
func closeFDs(fds []int) {
	seen := make(map[int]bool, len(fds))
	for _, fd := range fds {
		if fd >= 0 && !seen[fd] {
			seen[fd] = true
			unix.Close(fd)
		}
	}
}

// removeSocketFile unlinks path if it is still a socket file. Anything
// else found there (a file someone put in its place) is left alone.
func removeSocketFile(path string) error {
	if path == "" || isAbstract(path) {
		return nil
	}
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
