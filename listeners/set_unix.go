//go:build unix

package listeners

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"slices"

	"golang.org/x/sys/unix"
)

// member is one descriptor of the set. The Set owns fd and closes it
// exactly once: in Close, in CloseUnclaimed, or when adding it fails.
type member struct {
	Entry
	fd        int
	sock      sockInfo // what fd is; the zero value for files
	file      sockFile // the socket file this process may remove
	inherited bool
}

// grant is a dup of a member's fd handed out by claim, with the member's
// entry at that moment. The receiver owns fd.
type grant struct {
	Entry
	fd int
}

func (s *Set) listen(req request) (net.Listener, error) {
	var lc net.ListenConfig
	return claimOrBind(s, req, listenerFromFD, func(ctx context.Context, network, addr string) (net.Listener, error) {
		ln, err := lc.Listen(ctx, network, addr)
		if ul, ok := ln.(*net.UnixListener); ok {
			ul.SetUnlinkOnClose(false) // the Set decides when the file goes
		}
		return ln, err
	})
}

func (s *Set) listenPacket(req request) (net.PacketConn, error) {
	var lc net.ListenConfig
	return claimOrBind(s, req, packetConnFromFD, lc.ListenPacket)
}

// claimOrBind returns a socket made by fromFD from a dup of the member req
// asks for, or, when there is none, a socket bound by listen, which it
// adds as a fresh member.
func claimOrBind[T io.Closer](s *Set, req request,
	fromFD func(request, int) (T, error),
	listen func(context.Context, string, string) (T, error),
) (T, error) {
	var zero T
	want, err := resolveTarget(req)
	if err != nil {
		return zero, err
	}
	g, ok, err := s.claim(req, want)
	switch {
	case err != nil:
		return zero, err
	case ok:
		return fromFD(req, g.fd)
	}
	defer s.unreserve(req.name)
	c, err := bind(req, listen)
	if err != nil {
		return zero, err
	}
	if err := s.adopt(req, c); err != nil {
		discard(req, c)
		return zero, err
	}
	return c, nil
}

func (s *Set) file(req request, open func() (*os.File, error)) (*os.File, error) {
	g, ok, err := s.claim(req, target{})
	switch {
	case err != nil:
		return nil, err
	case ok:
		return os.NewFile(uintptr(g.fd), cmp.Or(g.Addr, g.Name)), nil
	}
	defer s.unreserve(req.name)
	f, err := callOpen(req, open)
	if err != nil {
		return nil, err
	}
	req.addr = f.Name()
	if err := s.adopt(req, f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// claim finds the member req asks for, marks it claimed under req.name and
// returns a dup of it. When ok is false and err nil, no member serves req
// and the caller has reserved req.name: it must bind or open a fresh one,
// adopt it, and call unreserve whatever happens.
func (s *Set) claim(req request, want target) (g grant, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.closed {
			return grant{}, false, req.wrap(ErrClosed)
		}
		m, ok, err := s.claimLocked(req, want)
		if err != nil {
			return grant{}, false, err
		}
		if ok {
			fd, err := dupFD(m.fd)
			if err != nil {
				return grant{}, false, req.errorf("dup: %w", err)
			}
			return grant{Entry: m.Entry, fd: fd}, true, nil
		}
		busy, pending := s.opening[req.name]
		if !pending {
			s.opening[req.name] = make(chan struct{})
			return grant{}, false, nil
		}
		s.mu.Unlock() // wait for the other opener, then look again
		<-busy
		s.mu.Lock()
	}
}

// claimLocked applies the lookup order: this process's own member of that
// name, then the inherited one of that name if it serves req, then any
// inherited one bound to exactly the requested address.
func (s *Set) claimLocked(req request, want target) (*member, bool, error) {
	if m, ok := s.claimed[req.name]; ok {
		if !m.servesByName(req, want) {
			return nil, false, req.conflict(m.Entry)
		}
		return m, true, nil
	}
	m, ok := s.unclaimed[req.name]
	if !ok || !m.servesByName(req, want) {
		// A mismatching inherited member of this name stays unclaimed, so
		// that CloseUnclaimed drops it.
		if m, ok = s.unclaimedAtLocked(req, want); !ok {
			return nil, false, nil
		}
	}
	delete(s.unclaimed, m.Name)
	m.Name, m.Network = req.name, req.network
	if req.network != networkFile {
		m.Addr = req.addr // so that the next process asks by the same string
	}
	s.claimed[req.name] = m
	return m, true, nil
}

// unclaimedAtLocked finds an inherited member bound to exactly want, the
// way systemd sockets are matched; the lowest name wins a tie.
func (s *Set) unclaimedAtLocked(req request, want target) (*member, bool) {
	var found *member
	for _, m := range s.unclaimed {
		if m.servesByAddr(req, want) && (found == nil || m.Name < found.Name) {
			found = m
		}
	}
	return found, found != nil
}

// servesByName reports whether m, found under the requested name, can
// serve req. A port-0 request accepts the port m got, and the address
// string it was asked with counts as well as the one it is bound to.
func (m *member) servesByName(req request, want target) bool {
	if req.network == networkFile || m.Network == networkFile {
		return req.network == m.Network
	}
	return m.sock.fits(req.network) && (m.Addr == req.addr || want.matches(m.sock.local, true))
}

// servesByAddr is the stricter test for members found by address alone.
func (m *member) servesByAddr(req request, want target) bool {
	return req.network != networkFile && m.Network != networkFile &&
		m.sock.fits(req.network) && want.matches(m.sock.local, false)
}

// adopt stores a dup of c's descriptor as the fresh member req. c stays
// the caller's.
func (s *Set) adopt(req request, c any) error {
	fd, err := dupConn(c)
	if err != nil {
		return req.wrap(err)
	}
	si, err := probe(fd)
	if err != nil {
		unix.Close(fd)
		return req.wrap(err)
	}
	// Just bound by this process: the file at the bound path is its own.
	file := statSocketFile(si.unixPath())
	s.mu.Lock()
	defer s.mu.Unlock()
	err = s.addLocked(req, &member{Entry: req.entry(), fd: fd, sock: si, file: file})
	if err != nil {
		unix.Close(fd)
	}
	return err
}

func (s *Set) addLocked(req request, m *member) error {
	if s.closed {
		return req.wrap(ErrClosed)
	}
	// Only a bug could have let another member take the reserved name;
	// never lose one fd under another.
	if other, ok := s.claimed[m.Name]; ok {
		return req.conflict(other.Entry)
	}
	s.claimed[m.Name] = m
	return nil
}

// discard closes a socket bound for req that the Set could not keep, and
// removes the socket file it created.
func discard(req request, c io.Closer) {
	file := statSocketFile(req.addr) // the one bind just made
	c.Close()
	if isUnixNetwork(req.network) {
		removeSocketFile(req.addr, file)
	}
}

func listenerFromFD(req request, fd int) (net.Listener, error) {
	ln, err := fromFD(req, fd, net.FileListener)
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false)
	}
	return ln, err
}

func packetConnFromFD(req request, fd int) (net.PacketConn, error) {
	return fromFD(req, fd, net.FilePacketConn)
}

// fromFD makes a socket of fd with conv, which works on its own dup.
func fromFD[T any](req request, fd int, conv func(*os.File) (T, error)) (T, error) {
	f := os.NewFile(uintptr(fd), req.addr)
	defer f.Close()
	c, err := conv(f)
	if err != nil {
		return c, req.wrap(err)
	}
	return c, nil
}

func (s *Set) export() ([]Entry, []int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, fmt.Errorf("listeners: export: %w", ErrClosed)
	}
	ms := s.exportableLocked()
	entries, fds := make([]Entry, 0, len(ms)), make([]int, 0, len(ms))
	for _, m := range ms {
		fd, err := dupFD(m.fd)
		if err != nil {
			closeFDs(fds)
			return nil, nil, fmt.Errorf("listeners: export %q: dup: %w", m.Name, err)
		}
		entries, fds = append(entries, m.Entry), append(fds, fd)
	}
	return entries, fds, nil
}

func (s *Set) lend(send func([]Entry, []int) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("listeners: lend: %w", ErrClosed)
	}
	ms := s.exportableLocked()
	entries, fds := make([]Entry, len(ms)), make([]int, len(ms))
	for i, m := range ms {
		entries[i], fds[i] = m.Entry, m.fd
	}
	return send(entries, fds)
}

// exportableLocked lists claimed members and the unclaimed ones no claimed
// member shadows, sorted by name.
func (s *Set) exportableLocked() []*member {
	ms := slices.Collect(maps.Values(s.claimed))
	for name, m := range s.unclaimed {
		if _, shadowed := s.claimed[name]; !shadowed {
			ms = append(ms, m)
		}
	}
	slices.SortFunc(ms, func(a, b *member) int { return cmp.Compare(a.Name, b.Name) })
	return ms
}

func (s *Set) closeUnclaimed() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("listeners: close unclaimed: %w", ErrClosed)
	}
	ms := s.unclaimed
	s.unclaimed = map[string]*member{}
	served := map[string]bool{}
	for _, m := range s.claimed {
		served[m.sock.unixPath()] = true
	}
	s.mu.Unlock()
	var errs []error
	for _, m := range ms {
		errs = append(errs, m.release(!served[m.sock.unixPath()]))
	}
	return errors.Join(errs...)
}

// release closes m's fd and, with unlink, first removes its socket file.
func (m *member) release(unlink bool) error {
	var errs []error
	if unlink && isUnixNetwork(m.Network) {
		if err := removeSocketFile(m.sock.unixPath(), m.file); err != nil {
			errs = append(errs, fmt.Errorf("listeners: unlink %q: %w", m.Name, err))
		}
	}
	if err := unix.Close(m.fd); err != nil {
		errs = append(errs, fmt.Errorf("listeners: close %q (fd %d): %w", m.Name, m.fd, err))
	}
	return errors.Join(errs...)
}

func (s *Set) isInherited(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.claimed[name]
	if !ok {
		m, ok = s.unclaimed[name]
	}
	return ok && m.inherited
}

func (s *Set) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.claimed) + len(s.unclaimed)
}

func (s *Set) list() []Info {
	s.mu.Lock()
	infos := make([]Info, 0, len(s.claimed)+len(s.unclaimed))
	// Claimed first: the stable sort keeps a claimed member ahead of an
	// unclaimed one it shadows.
	for _, m := range s.claimed {
		infos = append(infos, m.info())
	}
	for _, m := range s.unclaimed {
		infos = append(infos, m.info())
	}
	s.mu.Unlock()
	sortInfos(infos)
	return infos
}

func (m *member) info() Info {
	addr := m.Addr
	if a := sockaddrString(m.sock.local); a != "" {
		addr = a
	}
	return Info{Name: m.Name, Network: m.Network, Addr: addr, Inherited: m.inherited}
}
