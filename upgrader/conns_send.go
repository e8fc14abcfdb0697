package upgrader

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync/atomic"

	"github.com/handoff-go/handoff/internal/wire"
)

// The old side of connection moves: the sender to the successor.

// connSender is the old side of connection moves: one goroutine (run)
// gathers the Move calls waiting at the moment into a round and carries
// it, so thousands of connections going idle at once travel in a few
// rounds.
type connSender struct {
	c      *wire.Conn // owned by the state (Stop closes it); only run uses it
	log    *slog.Logger
	peer   int
	reqs   chan moveReq  // unbuffered: a sent request is run's to answer
	gone   chan struct{} // the upgrader has stopped
	broken atomic.Bool
}

// moveReq asks for the socket fd to move. fd is the caller's, valid until
// res delivers (see ConnMover.Move).
type moveReq struct {
	entry wire.Entry
	fd    int
	res   chan error
}

// startSendingConns keeps c, the connection to the successor that just
// became ready, for moving connections to it, if it offered to take them.
// The old side calls it once ReadyAck is sent (giveTo).
func (u *Upgrader) startSendingConns(c *wire.Conn, hello wire.Hello) {
	if !hello.Conns || u.opts.DisableConnMoves || !connsSupported {
		return
	}
	s := newConnSender(u, c, hello.PID)
	u.mv.mu.Lock()
	u.mv.out = s
	u.mv.mu.Unlock()
	go s.run()
}

// errMovesFailed is returned by Move once a round has failed.
var errMovesFailed = errors.New("upgrader: moving connections failed earlier in this drain")

func newConnSender(u *Upgrader, c *wire.Conn, peer int) *connSender {
	return &connSender{c: c, log: u.log, peer: peer, reqs: make(chan moveReq), gone: u.stopped}
}

func (s *connSender) failed() bool { return s.broken.Load() }

// move asks run to carry fd and waits for the round's outcome.
func (s *connSender) move(e wire.Entry, fd int) error {
	if s.failed() {
		return errMovesFailed
	}
	r := moveReq{entry: e, fd: fd, res: make(chan error, 1)}
	select {
	case s.reqs <- r:
		return <-r.res
	case <-s.gone:
		return ErrStopped
	}
}

func (s *connSender) run() {
	for {
		var first moveReq
		select {
		case first = <-s.reqs:
		case <-s.gone:
			return
		}
		round := s.gather(first)
		err := s.sendRound(round)
		for _, r := range round {
			r.res <- err
		}
	}
}

// gather takes first and every request already waiting, up to maxRound.
// When none is waiting it yields once before it gives up, so that the
// goroutines a drain just woke reach Move and join the round.
func (s *connSender) gather(first moveReq) []moveReq {
	round := []moveReq{first}
	for len(round) < maxRound {
		select {
		case r := <-s.reqs:
			round = append(round, r)
			continue
		default:
		}
		runtime.Gosched()
		select {
		case r := <-s.reqs:
			round = append(round, r)
		default:
			return round
		}
	}
	return round
}

// sendRound carries one round; see the protocol in conns.go. After a
// failure nothing more is sent, and unless the peer refused cleanly the
// connection is closed so that it drops what it holds.
func (s *connSender) sendRound(round []moveReq) error {
	if s.failed() {
		return errMovesFailed
	}
	if len(round) == 0 {
		return nil
	}
	entries, fds := make([]wire.Entry, len(round)), make([]int, len(round))
	for i, r := range round {
		entries[i], fds[i] = r.entry, r.fd
	}
	err := s.carry(entries, fds)
	if err == nil {
		s.log.Debug("moved connections", "new_pid", s.peer, "conns", len(fds))
		return nil
	}
	s.broken.Store(true)
	if _, refused := errors.AsType[*wire.AbortError](err); !refused {
		s.c.Close()
	}
	s.log.Warn("moving connections failed; draining them here", "new_pid", s.peer,
		"conns", len(fds), "err", err)
	return fmt.Errorf("upgrader: move %d connections to pid %d: %w", len(fds), s.peer, err)
}

func (s *connSender) carry(entries []wire.Entry, fds []int) error {
	s.c.SetTimeout(moveTimeout)
	if err := s.c.SendFiles(entries, fds); err != nil {
		return err
	}
	var held wire.Conns
	if err := s.c.Expect(wire.TypeHeld, &held); err != nil {
		return err
	}
	if held.Count != len(fds) {
		return fmt.Errorf("peer holds %d of %d connections: %w", held.Count, len(fds), wire.ErrFDMismatch)
	}
	return s.c.Send(wire.TypeCommit, wire.Conns{Count: len(fds)})
}
