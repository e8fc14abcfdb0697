//go:build linux

package listeners

import "golang.org/x/sys/unix"

// socketFamily reads the family off the socket's address, which probe has
// already fetched, and asks the kernel (SO_DOMAIN) only when x/sys could
// not decode that address: one syscall fewer per inherited fd.
func socketFamily(fd int, local unix.Sockaddr) (int, error) {
	if family, ok := addrFamily(local); ok {
		return family, nil
	}
	return unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
}
