//go:build unix && !linux

package wire

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// passCred is Linux's SO_PASSCRED; the BSDs' LOCAL_CREDS differs enough
// (credentials once, or per message, with no pid on some) that callers
// here fall back to checking what the peer declares.
func passCred(int) error {
	return fmt.Errorf("sender credentials on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

func credSpace() int { return 0 }

func parseCred(unix.Cmsghdr, []byte) (Cred, bool) { return Cred{}, false }
