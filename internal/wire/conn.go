package wire

import (
	"net"
	"time"
)

// Conn is one end of a control connection. One goroutine may send while
// another receives; two concurrent senders (or receivers) are not allowed.
//
// Conn owns the socket and every fd it has received but not yet handed to
// the caller; Close closes all of them.
type Conn struct {
}

// NewConn wraps c. The Conn owns c from now on.
func NewConn(c *net.UnixConn) *Conn { panic("unimplemented") }

// SetTimeout sets the deadline of each later read and write (DefaultTimeout
// unless set). d <= 0 means no deadline.
func (c *Conn) SetTimeout(d time.Duration) { panic("unimplemented") }

// SetMaxFDs sets how many fds RecvFiles accepts in one handoff.
func (c *Conn) SetMaxFDs(n int) { panic("unimplemented") }

// Send writes one frame of type t whose body is v encoded as JSON.
func (c *Conn) Send(t Type, v any) error { panic("unimplemented") }

// Recv reads the next frame. A frame that arrives with fds attached but is
// not a Batch is an error, and those fds are closed.
func (c *Conn) Recv() (Msg, error) { panic("unimplemented") }

// Expect reads the next frame, checks that it has type t and decodes it into
// v. An Abort from the peer is returned as *AbortError; any other type is
// ErrUnexpected.
func (c *Conn) Expect(t Type, v any) error { panic("unimplemented") }

// SendFiles sends a Manifest and then the fds in batches of at most
// MaxFDsPerMessage, waiting for the peer's Ack after each batch.
// entries[i] describes fds[i]. The caller keeps ownership of fds: SendFiles
// never closes them.
func (c *Conn) SendFiles(entries []Entry, fds []int) error { panic("unimplemented") }

// RecvFiles receives what SendFiles sent. On success the caller owns every
// returned fd (each with close-on-exec set); on error every fd received so
// far has been closed.
func (c *Conn) RecvFiles() ([]Entry, []int, error) { panic("unimplemented") }

// PeerCred reports who is at the other end.
func (c *Conn) PeerCred() (Cred, error) { panic("unimplemented") }

// SetDeadline overrides the per-operation timeout with an absolute deadline
// for every later read and write, until SetTimeout is called again. Used to
// bound a whole conversation (an upgrade timeout) rather than one step.
func (c *Conn) SetDeadline(t time.Time) { panic("unimplemented") }

// Close closes the socket and every fd received but not handed out.
func (c *Conn) Close() error { panic("unimplemented") }
