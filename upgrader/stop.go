package upgrader

import (
	"fmt"

	"github.com/handoff-go/handoff/internal/wire"
)

// stopRequest answers OpStop, which `handoff stop` sends: this process, if
// it serves, refuses every later upgrade, answers Result{OK, PID} and
// closes Exit, so that the application drains and calls Stop. The
// connection lingers until then (Stop closes it), so the client learns on
// EOF that this process is gone. A client cannot find the serving process
// from the socket itself: SO_PEERCRED names whoever called listen(), the
// first generation, since the listening socket is handed on.
//
// A process that does not serve (not ready yet, upgrading, handed over,
// stopping) answers Result{Error} and carries on; every such state is
// brief, so the client asks again.
func (cs *controlServer) stopRequest(c *wire.Conn) bool {
	u := cs.u
	var err error
	if e := u.do(func(s *state) { err = s.acceptStop() }); e != nil {
		err = e
	}
	if err != nil {
		u.log.Info("stop request refused", "err", err)
		c.Send(wire.TypeResult, wire.Result{PID: u.pid, Error: err.Error()})
		return false
	}
	u.log.Info("stop requested over the control socket")
	c.SetTimeout(0) // nothing more is read; Stop hangs up
	c.Send(wire.TypeResult, wire.Result{OK: true, PID: u.pid})
	u.do(func(s *state) { s.closeExit(u) })
	return true
}

// acceptStop marks a serving process as stopping, which refuses every
// later upgrade, or says why it does not serve.
func (s *state) acceptStop() error {
	switch {
	case s.stopping || s.phase == phaseStopped:
		return ErrStopped
	case s.phase == phaseUpgrading:
		return ErrUpgradeInProgress
	case s.phase == phaseHandedOver:
		return ErrHandedOver
	case s.phase != phaseServing:
		return fmt.Errorf("%w: cannot stop before it serves", ErrNotReady)
	}
	s.stopping = true
	return nil
}
