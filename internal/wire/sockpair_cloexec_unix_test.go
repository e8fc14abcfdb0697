//go:build linux || freebsd || netbsd || openbsd || dragonfly

package wire

import "golang.org/x/sys/unix"

// socketpair makes an AF_UNIX stream socketpair, close-on-exec from the
// start.
func socketpair() ([2]int, error) {
	return unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
}
