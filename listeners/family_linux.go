//go:build linux

package listeners

import "golang.org/x/sys/unix"

// socketFamily asks the kernel directly: SO_DOMAIN answers even for
// families x/sys cannot decode a sockaddr of, and for unbound sockets.
func socketFamily(fd int, _ unix.Sockaddr) (int, error) {
	return unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
}
