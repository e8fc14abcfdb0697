package listeners

import (
	"errors"
	"maps"
	"os"
	"slices"
)

// unreserve ends the reservation of name that a fresh bind or open held,
// waking the requests for the same name that wait for it.
func (s *Set) unreserve(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if busy, ok := s.opening[name]; ok {
		delete(s.opening, name)
		close(busy)
	}
}

// callOpen runs the caller's open function (user code: the Set's lock must
// not be held) and checks that it kept its side of the contract.
func callOpen(req request, open func() (*os.File, error)) (*os.File, error) {
	f, err := open()
	if err != nil {
		if f != nil {
			f.Close()
		}
		return nil, req.errorf("open: %w", err)
	}
	if f == nil {
		return nil, req.errorf("open returned neither a file nor an error")
	}
	return f, nil
}

func (s *Set) close(unlink bool) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	ms := slices.Concat(slices.Collect(maps.Values(s.claimed)), slices.Collect(maps.Values(s.unclaimed)))
	s.claimed, s.unclaimed = nil, nil
	s.mu.Unlock()
	return releaseAll(ms, unlink)
}

// releaseAll releases every member of ms and joins their errors.
func releaseAll[M interface{ release(bool) error }](ms []M, unlink bool) error {
	var errs []error
	for _, m := range ms {
		errs = append(errs, m.release(unlink))
	}
	return errors.Join(errs...)
}
