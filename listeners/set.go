package listeners

import (
	"errors"
	"net"
	"os"
	"sync"
)

// Entry describes one descriptor of a set, as it travels to the next
// process: Name is the caller's key, Network is one of "tcp", "tcp4",
// "tcp6", "unix", "udp", "udp4", "udp6", "unixgram" or "file", and Addr is
// the address the socket was asked for (for files, the file's name).
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
//
// Where descriptors cannot be handed over (see ErrNotSupported) the Set
// keeps the very socket or file it returned instead of a dup: closing what
// it returned closes the member too.
type Set struct {
	mu     sync.Mutex
	closed bool
	// claimed holds what this process asked for, one member per name.
	claimed map[string]*member
	// unclaimed holds inherited members nobody asked for yet. A name may
	// be in both maps when Listen asked for it with another address: the
	// inherited one then waits here for CloseUnclaimed.
	unclaimed map[string]*member
	// opening holds the names a goroutine is binding or opening afresh;
	// the channel closes when it is done, so that a concurrent request
	// for the same name waits and then shares the result.
	opening map[string]chan struct{}
}

// New returns an empty set.
func New() *Set {
	return &Set{
		claimed:   map[string]*member{},
		unclaimed: map[string]*member{},
		opening:   map[string]chan struct{}{},
	}
}

// Listen returns a stream listener for network ("tcp", "tcp4", "tcp6" or
// "unix") and addr, named name. An inherited member is reused when its name
// matches, or when no name matches and one was bound to the same network
// and address (how systemd sockets are found); otherwise a new socket is
// bound. A stale Unix socket file that nobody answers on is replaced; a live
// one gives ErrInUse. The caller owns the returned listener; Unix listeners
// never unlink their socket file on Close (the Set decides that).
//
// Asking again for a name this process already listens on returns another
// dup of the same socket when network and addr agree, and an error naming
// both otherwise.
func (s *Set) Listen(name, network, addr string) (net.Listener, error) {
	req := request{op: "listen", name: name, network: network, addr: addr}
	if err := req.check(isStreamNetwork, "use ListenPacket for datagram networks"); err != nil {
		return nil, err
	}
	return s.listen(req)
}

// ListenPacket is Listen for datagram sockets ("udp", "udp4", "udp6",
// "unixgram").
func (s *Set) ListenPacket(name, network, addr string) (net.PacketConn, error) {
	req := request{op: "listen", name: name, network: network, addr: addr}
	if err := req.check(isPacketNetwork, "use Listen for stream networks"); err != nil {
		return nil, err
	}
	return s.listenPacket(req)
}

// File returns the file named name: the inherited one if there is one, else
// the one open returns. The Set keeps a dup; the caller owns the returned
// *os.File (and, when open was called, still owns what open returned only
// through it: File takes that file and returns it). If File fails after
// open succeeded, it closes the file open returned.
//
// open is called without any lock held, so it may use the Set, except to
// ask for the same name: a concurrent request for name waits for open.
func (s *Set) File(name string, open func() (*os.File, error)) (*os.File, error) {
	req := request{op: "file", name: name, network: networkFile}
	if name == "" {
		return nil, req.errorf("empty name")
	}
	return s.file(req, open)
}

// Inherit adds descriptors received from the previous process. The Set
// takes ownership of every fd in fds, even when it returns an error (it
// closes them then). entries[i] describes fds[i]; each fd is checked to be
// what its entry claims (socket type and family), so a lying peer cannot
// pass a file off as a listener.
//
// Inherited members stay unclaimed until Listen, ListenPacket or File asks
// for them; Export still passes them on, and CloseUnclaimed drops them.
func (s *Set) Inherit(entries []Entry, fds []int) error { return s.inherit(entries, fds) }

// InheritSystemd adds the sockets of systemd socket activation
// (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES) and unsets those variables so
// that child processes do not see them. It reports how many it added; zero
// and a nil error when the environment holds none for this process.
//
// Members are named after LISTEN_FDNAMES; a missing or empty name becomes
// "LISTEN_FD_<fd>" and a repeated one gets a "#2", "#3"... suffix. Their
// network is read from the socket itself ("file" for anything that is not
// a listening stream or a datagram socket), so Listen finds them by
// address when the names are not known.
func (s *Set) InheritSystemd() (int, error) { return s.inheritSystemd() }

// Export returns a dup (close-on-exec) of every member with its entry, for
// a handoff. The caller owns the returned fds and must close them.
//
// Inherited members nobody claimed yet are exported too, so that a handoff
// before CloseUnclaimed loses nothing; an unclaimed member whose name a
// claimed one now uses is not (it is on its way out). Entries are sorted by
// name.
func (s *Set) Export() ([]Entry, []int, error) { return s.export() }

// Lend calls send with the Set's own fds and their entries (the members
// Export would return, in the same order), for passing them to another
// process without duplicating them: dups can grow the fd table, which in a
// multi-threaded process waits for the kernel each time.
//
// The fds stay the Set's: send must not close or keep them, and must not
// call the Set's methods (the Set is locked until send returns, which also
// keeps every fd open and unchanged meanwhile). Lend returns send's error.
func (s *Set) Lend(send func(entries []Entry, fds []int) error) error { return s.lend(send) }

// CloseUnclaimed closes the inherited members that nobody asked for with
// Listen, ListenPacket or File since they were inherited, and forgets
// them. Unix socket files of those members are unlinked: no process serves
// them any more.
func (s *Set) CloseUnclaimed() error { return s.closeUnclaimed() }

// Inherited reports whether the member named name came from the previous
// process or from systemd, rather than being bound or opened here.
func (s *Set) Inherited(name string) bool { return s.isInherited(name) }

// List describes every member, sorted by name.
func (s *Set) List() []Info { return s.list() }

// Len is how many members the set has: List's length, without the
// system calls that describing each member takes.
func (s *Set) Len() int { return s.len() }

// Close closes every fd the Set holds. With unlink true (the last owner
// stops for good) the socket files of Unix stream and datagram members are
// removed too; after a handoff pass false, because the next process serves
// them. Later calls to Listen and the others return ErrClosed.
func (s *Set) Close(unlink bool) error { return s.close(unlink) }
