// Package ctlsock is the client end of a control socket: the one dial
// shared by package control (which hides the connection behind its own
// types) and the upgrader's takeover (which goes on speaking the handoff
// protocol on the same connection, so it needs the *wire.Conn itself).
package ctlsock

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/handoff-go/handoff/internal/wire"
)

// Failure classifies a failed dial by what an operator or a starting
// process does about it.
type Failure int

// The failures.
const (
	Other      Failure = iota
	NoSocket           // nothing at the path: no server started with it
	Stale              // a socket file nobody answers on: its server is gone
	NotAllowed         // the socket's mode or directory refuses this user
)

// DialError is a failed dial, with a message an operator can act on.
type DialError struct {
	Path    string
	Failure Failure
	Err     error // from net.Dial
}

func (e *DialError) Error() string {
	switch e.Failure {
	case NoSocket:
		return fmt.Sprintf("no control socket at %s (is the server running with that control path?)", e.Path)
	case Stale:
		return fmt.Sprintf("nobody answers on %s: a stale socket left by a server that is gone", e.Path)
	case NotAllowed:
		return fmt.Sprintf("not allowed to connect to %s: %v", e.Path, e.Err)
	}
	return fmt.Sprintf("connect to %s: %v", e.Path, e.Err)
}

func (e *DialError) Unwrap() error { return e.Err }

// Dial connects to the control socket at path within timeout. A failure is
// a *DialError.
func Dial(path string, timeout time.Duration) (*wire.Conn, error) {
	raw, err := net.DialTimeout("unix", path, timeout)
	if err != nil {
		return nil, &DialError{Path: path, Failure: classify(err), Err: err}
	}
	return wire.NewConn(raw.(*net.UnixConn)), nil
}

func classify(err error) Failure {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return NoSocket
	case errors.Is(err, syscall.ECONNREFUSED):
		return Stale
	case errors.Is(err, os.ErrPermission):
		return NotAllowed
	}
	return Other
}

// Send sends req on c. A server that turns the connection away sends an
// Abort and hangs up without reading: the error is then that Abort, a
// *wire.AbortError, rather than the broken pipe of the write.
func Send(c *wire.Conn, req wire.Request) error {
	if err := c.Send(wire.TypeRequest, req); err != nil {
		return c.Refusal(err)
	}
	return nil
}
