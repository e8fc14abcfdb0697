//go:build !unix

package upgrader

import (
	"net"
	"os/exec"
)

// Without descriptor passing there is no successor to start with a
// socket, and no inherited socket to take.

func startWithSocket(*exec.Cmd) (*net.UnixConn, error) { return nil, ErrNotSupported }

func socketFromFD(int) (*net.UnixConn, error) { return nil, ErrNotSupported }
