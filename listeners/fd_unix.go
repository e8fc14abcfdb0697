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

// sockFile identifies a socket file by device and inode, so that the Set
// removes only a file it bound or checked itself, never one that has taken
// its place since: a later server's socket, or whatever a swapped
// directory or symlink now leads to.
type sockFile struct {
	dev, ino uint64
	ok       bool
}

// statSocketFile identifies the socket file at path; ok is false when
// there is none (abstract names, nothing there, not a socket).
func statSocketFile(path string) sockFile {
	if path == "" || isAbstract(path) {
		return sockFile{}
	}
	var st unix.Stat_t
	if unix.Lstat(path, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return sockFile{}
	}
	return sockFile{dev: uint64(st.Dev), ino: uint64(st.Ino), ok: true}
}

// removeSocketFile unlinks path if it is still the socket file f. Anything
// else found there is left alone.
func removeSocketFile(path string, f sockFile) error {
	if !f.ok {
		return nil
	}
	if now := statSocketFile(path); now != f {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
