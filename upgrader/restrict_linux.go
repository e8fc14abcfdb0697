package upgrader

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// restrictSocketFile sets mode 0600 on the socket file this process just
// bound at path, without following a symlink someone may have put there
// meanwhile: the file is opened O_PATH|O_NOFOLLOW, checked to be a socket,
// and changed through its /proc/self/fd link. Abstract names have no file.
func restrictSocketFile(path string) error {
	if strings.HasPrefix(path, "@") {
		return nil
	}
	fd, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("open "+path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return os.NewSyscallError("fstat "+path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return fmt.Errorf("%s is no longer a socket (mode %#o): not changing its mode", path, st.Mode)
	}
	return os.NewSyscallError("chmod "+path, unix.Chmod("/proc/self/fd/"+strconv.Itoa(fd), 0o600))
}
