package listeners

import (
	"errors"
	"net"
	"os"
)

// Entry describes one descriptor of a set, as it travels to the next
// process: Name is the caller's key, Network is one of "tcp", "tcp4",
// "tcp6", "unix", "udp", "udp4", "udp6", "unixgram" or "file", and Addr is
// the address the socket was asked for (empty for files).
type Entry struct {
	Name    string
	Network string
	Addr    string
}

// Info describes a member of the set for status reports.
type Info struct {
	Name      string `json:"name"`
	Network   string `json:"network"`
	Addr      string `json:"addr"`      // the local address it is bound to, or the file name
	Inherited bool   `json:"inherited"` // came from the previous process or systemd
}

// Errors a caller can branch on.
var (
	ErrNotSupported = errors.New("listeners: handing over descriptors is not supported on this platform")
	ErrClosed       = errors.New("listeners: set is closed")
	ErrInUse        = errors.New("listeners: address in use by a live process")
)

// Set is the named set of descriptors a process serves from. It is safe for
// concurrent use. The Set owns one fd per member; the listeners, packet
// conns and files it returns are the caller's own dups: closing one of them
// stops this process using it but leaves the member (and every other
// process's copy) open.
type Set struct {
}

// New returns an empty set.
func New() *Set { panic("unimplemented") }

// Listen returns a stream listener for network ("tcp", "tcp4", "tcp6" or
// "unix") and addr, named name. An inherited member is reused when its name
// matches, or when no name matches and one was bound to the same network
// and address (how systemd sockets are found); otherwise a new socket is
// bound. A stale Unix socket file that nobody answers on is replaced; a live
// one gives ErrInUse. The caller owns the returned listener; Unix listeners
// never unlink their socket file on Close (the Set decides that).
func (s *Set) Listen(name, network, addr string) (net.Listener, error) {
	panic("unimplemented")
}

// ListenPacket is Listen for datagram sockets ("udp", "udp4", "udp6",
// "unixgram").
func (s *Set) ListenPacket(name, network, addr string) (net.PacketConn, error) {
	panic("unimplemented")
}

// File returns the file named name: the inherited one if there is one, else
// the one open returns. The Set keeps a dup; the caller owns the returned
// *os.File (and, when open was called, still owns what open returned only
// through it: File takes that file and returns it).
func (s *Set) File(name string, open func() (*os.File, error)) (*os.File, error) {
	panic("unimplemented")
}

// Inherit adds descriptors received from the previous process. The Set
// takes ownership of every fd in fds, even when it returns an error (it
// closes them then). entries[i] describes fds[i]; each fd is checked to be
// what its entry claims (socket type and family), so a lying peer cannot
// pass a file off as a listener.
func (s *Set) Inherit(entries []Entry, fds []int) error { panic("unimplemented") }

// InheritSystemd adds the sockets of systemd socket activation
// (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES) and unsets those variables so
// that child processes do not see them. It reports how many it added; zero
// and a nil error when the environment holds none for this process.
func (s *Set) InheritSystemd() (int, error) { panic("unimplemented") }

// Export returns a dup (close-on-exec) of every member with its entry, for
// a handoff. The caller owns the returned fds and must close them.
func (s *Set) Export() ([]Entry, []int, error) { panic("unimplemented") }

// CloseUnclaimed closes the inherited members that nobody asked for with
// Listen, ListenPacket or File since they were inherited, and forgets
// them. Unix socket files of those members are unlinked: no process serves
// them any more.
func (s *Set) CloseUnclaimed() error { panic("unimplemented") }

// List describes every member, sorted by name.
func (s *Set) List() []Info { panic("unimplemented") }

// Close closes every fd the Set holds. With unlink true (the last owner
// stops for good) the socket files of Unix stream and datagram members are
// removed too; after a handoff pass false, because the next process serves
// them. Later calls to Listen and the others return ErrClosed.
func (s *Set) Close(unlink bool) error { panic("unimplemented") }
