//go:build !unix

package upgrader

import (
	"net"
)

// connsSupported: without descriptor passing nothing moves.
const connsSupported = false

func closeFD(int) {}

func closeFDs([]int) {}

func connFromFD(int, net.Addr) (net.Conn, error) { return nil, ErrNotSupported }

func checkConnFD(int) (net.Addr, error) { return nil, ErrNotSupported }
