//go:build !linux

package sdnotify

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// SendTo returns an error wrapping errors.ErrUnsupported: service managers
// that speak this protocol run on Linux.
func SendTo(addr, state string, files ...*os.File) error {
	if state == "" {
		return errEmpty
	}
	return fmt.Errorf("sdnotify: %s on %s: %w", addr, runtime.GOOS, errors.ErrUnsupported)
}
