package upgrader

import (
	"fmt"
	"net"

	"github.com/handoff-go/handoff/internal/inbox"
	"github.com/handoff-go/handoff/internal/wire"
)

// The new side of connection moves: the receiver from the predecessor.

// receiveConns is the new side of connection moves: it receives rounds
// from the predecessor on c until that one hangs up (it exits), and
// returns the error that ended it. A predecessor that moves nothing (an
// older build, or moves turned off) just hangs up.
func (u *Upgrader) receiveConns(c *wire.Conn) error {
	pid := u.prev.peer.PID
	for {
		c.SetTimeout(0) // the next round may come at any time, or never
		entries, fds, err := c.RecvFiles()
		if err != nil {
			return err
		}
		n, err := u.holdRound(c, entries, fds)
		if err != nil {
			u.log.Warn("receiving connections failed", "old_pid", pid, "conns", len(fds), "err", err)
			continue // the predecessor drains them; it says when it is gone
		}
		u.log.Debug("received connections", "old_pid", pid, "conns", n)
	}
}

// offersConns is what this process says in its Hello as the new side.
func (u *Upgrader) offersConns() bool { return !u.opts.DisableConnMoves && connsSupported }

// hold finds an open inbox of name and holds it for a delivery.
func (m *moves) hold(name string) (*inbox.Inbox, error) {
	m.mu.Lock()
	ibs := append([]*inbox.Inbox(nil), m.inboxes[name]...)
	m.mu.Unlock()
	for _, ib := range ibs {
		if ib.Hold() == nil {
			return ib, nil
		}
	}
	return nil, fmt.Errorf("no open listener named %q takes connections", name)
}

// held is a received socket waiting for the commit, and the inbox that
// will serve it.
type held struct {
	ib   *inbox.Inbox
	fd   int      // ours until delivered
	peer net.Addr // the socket's peer, as checkConnFD found it
}

// holdRound checks and holds one round's sockets, answers Held, and once
// the predecessor commits, serves them (converting and delivering
// them on another goroutine, so that the next round can come meanwhile).
// It owns fds; on any error every one is closed (our descriptors only: the
// predecessor still has its own and drains them).
func (u *Upgrader) holdRound(c *wire.Conn, entries []wire.Entry, fds []int) (int, error) {
	hs, err := u.holdAll(entries, fds)
	if err != nil {
		c.Send(wire.TypeAbort, wire.Abort{Reason: err.Error()})
		return 0, err
	}
	c.SetTimeout(moveTimeout)
	err = c.Send(wire.TypeHeld, wire.Conns{Count: len(hs)})
	var commit wire.Conns
	if err == nil {
		err = c.Expect(wire.TypeCommit, &commit)
	}
	if err == nil && commit.Count != len(hs) {
		err = fmt.Errorf("commit of %d connections for %d held: %w", commit.Count, len(hs), wire.ErrFDMismatch)
	}
	if err != nil {
		dropHeld(hs)
		return 0, err
	}
	go u.deliver(hs)
	return len(hs), nil
}

// holdAll checks that each fd is a connected stream socket and holds the
// inbox of its entry's name for it.
func (u *Upgrader) holdAll(entries []wire.Entry, fds []int) ([]held, error) {
	hs := make([]held, 0, len(fds))
	for i, fd := range fds {
		peer, err := checkConnFD(fd)
		var ib *inbox.Inbox
		if err == nil {
			ib, err = u.mv.hold(entries[i].Name)
		}
		if err != nil {
			closeFDs(fds[i:])
			dropHeld(hs)
			return nil, fmt.Errorf("connection %d (%.64q): %w", i, entries[i].Name, err)
		}
		hs = append(hs, held{ib: ib, fd: fd, peer: peer})
	}
	return hs, nil
}

func dropHeld(hs []held) {
	for _, h := range hs {
		h.ib.Release()
		closeFD(h.fd)
	}
}

// deliverBatch is the most connections deliver hands an inbox at once:
// enough to save most wake-ups of its Accept, few enough that the first
// of a round are served while the rest are still being converted.
const deliverBatch = 128

// deliver turns committed sockets into connections and hands them to their
// inboxes in batches. A socket that does not fit its listener (a lying
// peer) is closed.
func (u *Upgrader) deliver(hs []held) {
	bad := 0
	var ib *inbox.Inbox
	var batch []net.Conn
	flush := func() {
		if len(batch) > 0 {
			ib.Deliver(batch)
			batch = nil
		}
	}
	for _, h := range hs {
		c, err := connFromFD(h.fd, h.peer) // takes fd
		if err == nil && c.LocalAddr().Network() != h.ib.Addr().Network() {
			c.Close()
			err = fmt.Errorf("a %s connection for a %s listener", c.LocalAddr().Network(), h.ib.Addr().Network())
		}
		if err != nil {
			bad++
			h.ib.Release()
			continue
		}
		if h.ib != ib || len(batch) == deliverBatch {
			flush()
			ib = h.ib
		}
		batch = append(batch, c)
	}
	flush()
	if bad > 0 {
		u.log.Warn("moved connections that fit no listener were closed", "conns", bad)
	}
}
