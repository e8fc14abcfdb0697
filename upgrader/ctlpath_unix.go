//go:build unix

package upgrader

import (
	"fmt"

	"github.com/handoff-go/handoff/internal/ctlsock"
)

// checkControlPath refuses, before anything starts, a control path no
// Unix socket can have: the kernel's own error is a bare EINVAL.
func checkControlPath(path string) error {
	if path == "" {
		return nil
	}
	if err := ctlsock.CheckPath(path); err != nil {
		return fmt.Errorf("upgrader: %w", err)
	}
	return nil
}
