package upgrader

import (
	"fmt"
	"net"

	"github.com/handoff-go/handoff/internal/wire"
	"github.com/handoff-go/handoff/listeners"
)

// takeConns is the new side of connection moves: it receives rounds from
// the previous generation on c until that one hangs up (it exits), and
// returns the error that ended it. A previous generation that moves
// nothing (an older build, or moves turned off) just hangs up.
func (u *Upgrader) takeConns(c *wire.Conn) error {
	pid := u.parentHello.PID
	for {
		c.SetTimeout(0) // the next round may come at any time, or never
		entries, fds, err := c.RecvFiles()
		if err != nil {
			return err
		}
		n, err := u.takeRound(c, entries, fds)
		if err != nil {
			u.log.Warn("taking connections failed", "old_pid", pid, "conns", len(fds), "err", err)
			continue // the previous generation drains them; it says when it is gone
		}
		u.log.Debug("took connections", "old_pid", pid, "conns", n)
	}
}

// held is a received connection waiting for the commit, and the inbox
// that will serve it.
type held struct {
	ib *listeners.Inbox
	c  net.Conn
}

// takeRound checks and holds one round's connections, answers Held, and
// serves them once the previous generation commits. It owns fds; on any
// error every connection of the round is closed (our descriptors only: the
// previous generation still has its own and drains them).
func (u *Upgrader) takeRound(c *wire.Conn, entries []wire.Entry, fds []int) (int, error) {
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
	deliver(hs)
	return len(hs), nil
}

// holdAll turns each fd into a connection checked against its entry and
// holds the inbox that will serve it.
func (u *Upgrader) holdAll(entries []wire.Entry, fds []int) ([]held, error) {
	hs := make([]held, 0, len(fds))
	for i, fd := range fds {
		h, err := u.holdOne(entries[i], fd)
		if err != nil {
			closeFDs(fds[i+1:])
			dropHeld(hs)
			return nil, fmt.Errorf("connection %d (%.64q): %w", i, entries[i].Name, err)
		}
		hs = append(hs, h)
	}
	return hs, nil
}

func (u *Upgrader) holdOne(e wire.Entry, fd int) (held, error) {
	c, err := connFromFD(fd) // takes fd
	if err != nil {
		return held{}, err
	}
	ib, err := u.mv.hold(e.Name)
	if err != nil {
		c.Close()
		return held{}, err
	}
	if got, want := c.LocalAddr().Network(), ib.Addr().Network(); got != want {
		ib.Release()
		c.Close()
		return held{}, fmt.Errorf("a %s connection for a %s listener", got, want)
	}
	return held{ib: ib, c: c}, nil
}

func dropHeld(hs []held) {
	for _, h := range hs {
		h.ib.Release()
		h.c.Close()
	}
}

func deliver(hs []held) {
	for _, h := range hs {
		h.ib.Deliver([]net.Conn{h.c})
	}
}
