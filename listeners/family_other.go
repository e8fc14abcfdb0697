//go:build unix && !linux

package listeners

import (
	"errors"

	"golang.org/x/sys/unix"
)

// socketFamily derives the family from the socket's own address, because
// SO_DOMAIN is Linux-only.
func socketFamily(_ int, local unix.Sockaddr) (int, error) {
	switch local.(type) {
	case *unix.SockaddrInet4:
		return unix.AF_INET, nil
	case *unix.SockaddrInet6:
		return unix.AF_INET6, nil
	case *unix.SockaddrUnix:
		return unix.AF_UNIX, nil
	}
	return 0, errors.New("socket of an unsupported family")
}
