//go:build !unix

package listeners

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
)

// member is one socket or file of the set. Without descriptor passing
// there is nothing to dup, so the Set keeps the very object it returned:
// the caller and the Set share it, and Close closes it.
type member struct {
	Entry
	local string
	c     io.Closer
}

func (s *Set) listen(req request) (net.Listener, error) {
	return bindNew(s, req, net.Listen, func(ln net.Listener) string {
		// An interface, because plan9's UnixListener has no such method.
		if ul, ok := ln.(interface{ SetUnlinkOnClose(bool) }); ok {
			ul.SetUnlinkOnClose(false) // the Set decides when the file goes
		}
		return ln.Addr().String()
	})
}

func (s *Set) listenPacket(req request) (net.PacketConn, error) {
	return bindNew(s, req, net.ListenPacket, func(pc net.PacketConn) string { return pc.LocalAddr().String() })
}

// bindNew binds a fresh socket for req with bind and adds it to s; local
// readies it and gives its address.
func bindNew[T io.Closer](s *Set, req request, bind func(network, addr string) (T, error), local func(T) string) (T, error) {
	var zero T
	if err := s.reserve(req); err != nil {
		return zero, err
	}
	defer s.unreserve(req.name)
	c, err := bind(req.network, req.addr)
	if err != nil {
		return zero, req.wrap(err)
	}
	if err := s.add(req, local(c), c); err != nil {
		return zero, err
	}
	return c, nil
}

func (s *Set) file(req request, open func() (*os.File, error)) (*os.File, error) {
	if err := s.reserve(req); err != nil {
		return nil, err
	}
	defer s.unreserve(req.name)
	f, err := callOpen(req, open)
	if err != nil {
		return nil, err
	}
	req.addr = f.Name()
	if err := s.add(req, f.Name(), f); err != nil {
		return nil, err
	}
	return f, nil
}

// reserve fails early when the name is taken, as one socket cannot be
// shared out twice without a dup, and holds the name until add or
// unreserve.
func (s *Set) reserve(req request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLocked(req); err != nil {
		return err
	}
	if _, busy := s.opening[req.name]; busy {
		return req.errorf("name is being opened by another goroutine")
	}
	s.opening[req.name] = make(chan struct{})
	return nil
}

func (s *Set) checkLocked(req request) error {
	if s.closed {
		return req.wrap(ErrClosed)
	}
	if m, ok := s.claimed[req.name]; ok {
		return fmt.Errorf("%w (sharing a member needs descriptor passing): %w", req.conflict(m.Entry), ErrNotSupported)
	}
	return nil
}

// add keeps c as member req; when that fails it closes c, which the
// caller then never sees.
func (s *Set) add(req request, local string, c io.Closer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLocked(req); err != nil {
		c.Close()
		return err
	}
	s.claimed[req.name] = &member{Entry: req.entry(), local: local, c: c}
	return nil
}

// inherit closes nothing: on these platforms no descriptor can have been
// received, and the ints are not handles the Set could close.
func (s *Set) inherit(entries []Entry, fds []int) error {
	return fmt.Errorf("listeners: inherit %d fds: %w", len(fds), ErrNotSupported)
}

func (s *Set) inheritSystemd() (int, error) { return 0, nil }

func (s *Set) lend(func([]Entry, []int) error) error {
	return fmt.Errorf("listeners: lend: %w", ErrNotSupported)
}

func (s *Set) export() ([]Entry, []int, error) {
	return nil, nil, fmt.Errorf("listeners: export: %w", ErrNotSupported)
}

func (s *Set) closeUnclaimed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("listeners: close unclaimed: %w", ErrClosed)
	}
	return nil // nothing is ever inherited here
}

func (s *Set) isInherited(string) bool { return false } // nothing is ever inherited here

func (s *Set) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.claimed)
}

func (s *Set) list() []Info {
	s.mu.Lock()
	infos := make([]Info, 0, len(s.claimed))
	for _, m := range s.claimed {
		infos = append(infos, Info{Name: m.Name, Network: m.Network, Addr: m.local})
	}
	s.mu.Unlock()
	sortInfos(infos)
	return infos
}

// release closes m (the caller may have closed it already, which is fine)
// and, with unlink, removes its socket file if it still is one.
func (m *member) release(unlink bool) error {
	var errs []error
	if err := m.c.Close(); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrClosed) {
		errs = append(errs, fmt.Errorf("listeners: close %q: %w", m.Name, err))
	}
	if unlink && isUnixNetwork(m.Network) {
		if fi, err := os.Lstat(m.local); err == nil && fi.Mode()&fs.ModeSocket != 0 {
			if err := os.Remove(m.local); err != nil {
				errs = append(errs, fmt.Errorf("listeners: unlink %q: %w", m.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}
