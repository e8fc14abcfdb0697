package listeners

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
