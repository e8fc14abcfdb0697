package wire

import (
	"fmt"
	"net"
)

// PassCred turns on SO_PASSCRED for uc, a stream or datagram socket: each
// later read then carries the credentials of the process that wrote its
// bytes, as the kernel vouches for them, for ParseControl to return.
// Platforms without it return an error wrapping errors.ErrUnsupported.
func PassCred(uc *net.UnixConn) error {
	if err := withFD(uc, passCred); err != nil {
		return fmt.Errorf("wire: pass credentials: %w", err)
	}
	return nil
}
