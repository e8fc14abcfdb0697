package upgrader

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/handoff-go/handoff/internal/wire"
)

// inherit finds the previous generation (a parent that passed HANDOFF_FD,
// or a live process on the control socket) and receives its set; failing
// both, it takes what systemd socket activation offers.
func (u *Upgrader) inherit() error {
	raw, found, err := inheritedConn()
	if err != nil {
		return err
	}
	if found {
		u.mode = ModeChild
		return u.receiveOn(raw)
	}
	if u.opts.ControlPath != "" {
		raw, live, err := dialLive(u.opts.ControlPath)
		if err != nil {
			return err
		}
		if live {
			u.mode = ModeTakeover
			return u.takeOver(raw)
		}
	}
	u.mode = ModeCold
	n, err := u.set.InheritSystemd()
	if err != nil {
		return fmt.Errorf("upgrader: systemd socket activation: %w", err)
	}
	u.inherited = n
	return nil
}

func (u *Upgrader) receiveOn(raw *net.UnixConn) error {
	c := wire.NewConn(raw)
	if err := u.receive(c); err != nil {
		c.Close()
		return err
	}
	return nil
}

// takeOver asks the live process at the control socket for its set.
func (u *Upgrader) takeOver(raw *net.UnixConn) error {
	c := wire.NewConn(raw)
	if err := c.Send(wire.TypeRequest, wire.Request{Op: "takeover"}); err != nil {
		c.Close()
		return fmt.Errorf("upgrader: ask %s for a takeover: %w", u.opts.ControlPath, err)
	}
	if err := u.receive(c); err != nil {
		c.Close()
		return fmt.Errorf("upgrader: take over from %s: %w", u.opts.ControlPath, err)
	}
	return nil
}

// dialLive connects to the control socket at path. live is false when
// nobody is there: no file, or a stale file nobody answers on (listeners
// replaces that when the control socket is bound).
func dialLive(path string) (c *net.UnixConn, live bool, err error) {
	conn, err := net.DialTimeout("unix", path, 2*time.Second)
	switch {
	case err == nil:
		return conn.(*net.UnixConn), true, nil
	case errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
		return nil, false, nil
	}
	return nil, false, fmt.Errorf("upgrader: dial control socket %s: %w", path, err)
}

func (u *Upgrader) initialState() *state {
	s := &state{phase: phaseStarting, maxDraining: u.opts.MaxDraining, owner: u.mode == ModeCold}
	if u.parent != nil {
		s.parent = Peer{PID: u.parentHello.PID, Generation: u.parentHello.Generation}
		for _, p := range u.parentHello.Draining {
			s.draining = append(s.draining, Peer{PID: p.PID, Generation: p.Generation})
		}
	}
	return s
}
