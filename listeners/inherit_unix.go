//go:build unix

package listeners

import (
	"fmt"

	"golang.org/x/sys/unix"
)

func (s *Set) inherit(entries []Entry, fds []int) error {
	ms, err := inspectAll(entries, fds)
	if err == nil {
		err = s.addInherited(ms)
	}
	if err != nil {
		closeFDs(fds) // the Set owns them whatever happens
	}
	return err
}

// inspectAll checks that the entries and fds agree before any of them
// joins the set, so that a bad handoff adds nothing.
func inspectAll(entries []Entry, fds []int) ([]*member, error) {
	if len(entries) != len(fds) {
		return nil, fmt.Errorf("listeners: inherit: %d entries for %d fds", len(entries), len(fds))
	}
	names := make(map[string]bool, len(entries))
	nums := make(map[int]bool, len(fds))
	ms := make([]*member, 0, len(fds))
	for i, e := range entries {
		switch {
		case e.Name == "":
			return nil, fmt.Errorf("listeners: inherit: entry %d (fd %d) has no name", i, fds[i])
		case names[e.Name]:
			return nil, fmt.Errorf("listeners: inherit: name %q given twice", e.Name)
		case nums[fds[i]]:
			return nil, fmt.Errorf("listeners: inherit %q: fd %d given twice", e.Name, fds[i])
		}
		names[e.Name], nums[fds[i]] = true, true
		m, err := inspect(e, fds[i])
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// inspect checks that fd is what e claims and makes it close-on-exec, as
// every fd the Set owns is: children get only what is passed on purpose.
func inspect(e Entry, fd int) (*member, error) {
	if !isKnownNetwork(e.Network) {
		return nil, fmt.Errorf("listeners: inherit %q (fd %d): unknown network %q", e.Name, fd, e.Network)
	}
	if fd < 0 {
		return nil, fmt.Errorf("listeners: inherit %q: invalid fd %d", e.Name, fd)
	}
	si, err := probe(fd)
	if err == nil {
		err = si.check(e.Network)
	}
	if err == nil {
		err = si.checkBound(e)
	}
	if err == nil {
		if _, cerr := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC); cerr != nil {
			err = fmt.Errorf("set close-on-exec: %w", cerr)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("listeners: inherit %q (fd %d): %w", e.Name, fd, err)
	}
	// The socket is bound where its entry says; the file found at that path
	// now is the one this process may remove when it is the last owner.
	return &member{Entry: e, fd: fd, sock: si, file: statSocketFile(si.unixPath()), inherited: true}, nil
}

func (s *Set) addInherited(ms []*member) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("listeners: inherit: %w", ErrClosed)
	}
	for _, m := range ms {
		_, claimed := s.claimed[m.Name]
		_, unclaimed := s.unclaimed[m.Name]
		if claimed || unclaimed {
			return fmt.Errorf("listeners: inherit %q: name already in the set", m.Name)
		}
	}
	for _, m := range ms {
		s.unclaimed[m.Name] = m
	}
	return nil
}

func isKnownNetwork(network string) bool {
	return network == networkFile || isStreamNetwork(network) || isPacketNetwork(network)
}

// checkBound checks that a socket is bound where its entry says, so that
// a peer cannot pass a socket off under another address (and have this
// process serve it, or remove another socket's file as its own).
func (si sockInfo) checkBound(e Entry) error {
	if e.Network == networkFile {
		return nil
	}
	if e.Addr == "" {
		return fmt.Errorf("entry gives no address for %s", si)
	}
	want, err := resolveTarget(request{op: "inherit", name: e.Name, network: e.Network, addr: e.Addr})
	if err != nil {
		return err
	}
	if !want.matches(si.local, true) {
		return fmt.Errorf("claimed to be bound to %s, got %s", e.Addr, si)
	}
	return nil
}
