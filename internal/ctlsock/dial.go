// Package ctlsock is the client end of a control socket: the one dial
// shared by package control (which hides the connection behind its own
// types) and the upgrader's takeover (which goes on speaking the handoff
// protocol on the same connection, so it needs the *wire.Conn itself).
// It also holds the server's check that a client is still there.
package ctlsock

import (
	"errors"
	"fmt"
	"io/fs"
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
	NotSocket          // the path is a file of another kind: a wrong path
	TooLong            // no Unix socket can have this path
)

// DialError is a failed dial, with a message an operator can act on.
type DialError struct {
	Path    string
	Failure Failure
	Kind    string // for NotSocket: what the path is instead
	Err     error  // from net.Dial, or why the path cannot be a socket
}

func (e *DialError) Error() string {
	switch e.Failure {
	case NoSocket:
		return fmt.Sprintf("no control socket at %s (is the server running with that control path?)", e.Path)
	case Stale:
		return fmt.Sprintf("nobody answers on %s: a stale socket left by a server that is gone", e.Path)
	case NotAllowed:
		return fmt.Sprintf("not allowed to connect to %s: %v", e.Path, e.Err)
	case NotSocket:
		return fmt.Sprintf("%s is %s, not a control socket (a wrong -control path?)", e.Path, e.Kind)
	case TooLong:
		return e.Err.Error()
	}
	return fmt.Sprintf("connect to %s: %v", e.Path, e.Err)
}

func (e *DialError) Unwrap() error { return e.Err }

// Dial connects to the control socket at path within timeout. A failure is
// a *DialError.
func Dial(path string, timeout time.Duration) (*wire.Conn, error) {
	raw, err := DialUnix(path, timeout)
	if err != nil {
		return nil, err
	}
	return wire.NewConn(raw), nil
}

// DialUnix is Dial for a caller that needs the socket itself (to half
// close it); it wraps it in a wire.Conn itself.
func DialUnix(path string, timeout time.Duration) (*net.UnixConn, error) {
	if err := CheckPath(path); err != nil {
		return nil, &DialError{Path: path, Failure: TooLong, Err: err}
	}
	raw, err := net.DialTimeout("unix", path, timeout)
	if err != nil {
		de := &DialError{Path: path, Failure: classify(err), Err: err}
		if de.Failure == Stale || de.Failure == Other {
			de.Kind = notSocket(path)
			if de.Kind != "" {
				de.Failure = NotSocket
			}
		}
		return nil, de
	}
	return raw.(*net.UnixConn), nil
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

// notSocket says what path is if it exists and is no socket ("a regular
// file", "a directory"...), or "" when it is a socket or cannot be told.
// connect(2) answers ECONNREFUSED for a regular file or a directory, just
// as for a socket whose server is gone.
func notSocket(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	switch m := fi.Mode(); {
	case m&fs.ModeSocket != 0:
		return ""
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a socket"
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
