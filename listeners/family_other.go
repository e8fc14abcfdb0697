//go:build unix && !linux

package listeners

import (
	"errors"

	"golang.org/x/sys/unix"
)

// socketFamily derives the family from the socket's own address, because
// SO_DOMAIN is Linux-only.
func socketFamily(_ int, local unix.Sockaddr) (int, error) {
	if family, ok := addrFamily(local); ok {
		return family, nil
	}
	return 0, errors.New("socket of an unsupported family")
}
