package wire

import "sync"

// fdGroup is the set of fds that one read brought, with the stream bytes
// [start, end) that the same read returned.
type fdGroup struct {
	start, end int64
	fds        []int
}

// fdQueue holds fds that arrived but that no frame has claimed yet. It has
// its own lock because Close may run while a receiver is reading.
type fdQueue struct {
	mu     sync.Mutex
	closed bool
	groups []fdGroup
}

// add queues fds that one read brought. After close they are closed at
// once: nobody could claim them any more.
func (q *fdQueue) add(g fdGroup) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		closeFDs(g.fds)
		return
	}
	q.groups = append(q.groups, g)
}

// take removes and returns the fds that belong to the frame that ends at
// stream offset end.
//
// A read can join the tail of one frame and the head of the next, so which
// frame fds came with is known only up to the read that brought them: the
// kernel hands them out with a read that returns some of the bytes they
// were sent with, and that read may also return bytes of the frame before
// (Linux) or after (the BSDs). A sender puts a batch's fds on the batch's
// own bytes, so:
//   - a batch takes every group whose read began before the batch ended;
//   - any other frame takes (to refuse) every group whose read ended within
//     it, and leaves a group that reaches past it for the next frame.
func (q *fdQueue) take(end int64, batch bool) []int {
	q.mu.Lock()
	defer q.mu.Unlock()
	var fds []int
	kept := q.groups[:0]
	for _, g := range q.groups {
		if (batch && g.start < end) || (!batch && g.end <= end) {
			fds = append(fds, g.fds...)
		} else {
			kept = append(kept, g)
		}
	}
	clear(q.groups[len(kept):])
	q.groups = kept
	return fds
}

// drop closes every queued fd; the queue stays usable.
func (q *fdQueue) drop() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.dropLocked()
}

// close closes every queued fd and every fd that arrives later.
func (q *fdQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.dropLocked()
}

func (q *fdQueue) dropLocked() {
	for _, g := range q.groups {
		closeFDs(g.fds)
	}
	q.groups = nil
}
