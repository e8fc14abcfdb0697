package wire

import "sync"

// pendingFDs holds the fds of the frame being read until recv hands them
// out. It has its own lock because Close may run while a receiver reads;
// after close, fds that still arrive are closed at once.
type pendingFDs struct {
	mu     sync.Mutex
	closed bool
	fds    []int
}

func (p *pendingFDs) set(fds []int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		closeFDs(fds)
		return
	}
	p.fds = fds
}

func (p *pendingFDs) empty() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.fds) == 0
}

// take removes and returns the fds; the caller owns them.
func (p *pendingFDs) take() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	fds := p.fds
	p.fds = nil
	return fds
}

// drop closes the fds; later ones are still taken.
func (p *pendingFDs) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	closeFDs(p.fds)
	p.fds = nil
}

// close closes the fds and every fd that arrives later.
func (p *pendingFDs) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	closeFDs(p.fds)
	p.fds = nil
}
