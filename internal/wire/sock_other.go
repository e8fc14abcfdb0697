//go:build !unix

package wire

import (
	"errors"
	"fmt"
	"net"
	"runtime"
)

// Without SCM_RIGHTS there is nothing to hand over, so every read and write
// fails and callers fall back to fresh listeners.
var errNoControl = fmt.Errorf("control connections on %s: %w", runtime.GOOS, errors.ErrUnsupported)

func oobSize() int { return 0 }

func readMsg(*net.UnixConn, []byte, []byte) (int, []int, Cred, error) {
	return 0, nil, Cred{}, errNoControl
}

func withFD(*net.UnixConn, func(int) error) error { return errNoControl }

func passCred(int) error { return errNoControl }

func writeMsg(*net.UnixConn, []byte, []int) error { return errNoControl }

func closeFDs([]int) {}
