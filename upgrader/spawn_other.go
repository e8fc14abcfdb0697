//go:build !unix

package upgrader

import (
	"net"
	"os/exec"
)

func (u *Upgrader) startChild() (*exec.Cmd, *net.UnixConn, error) {
	return nil, nil, ErrNotSupported
}

func inheritedConn() (*net.UnixConn, bool, error) { return nil, false, nil }
