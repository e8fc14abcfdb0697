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
	u.mu.Lock()
	err := u.acceptStopLocked()
	u.mu.Unlock()
	if err != nil {
		u.log.Info("stop request refused", "err", err)
		c.Send(wire.TypeResult, wire.Result{PID: u.pid, Code: resultCode(err), Error: err.Error()})
		return false
	}
	u.log.Info("stop requested over the control socket")
	c.SetTimeout(0) // nothing more is read; Stop hangs up
	c.Send(wire.TypeResult, wire.Result{OK: true, PID: u.pid})
	u.mu.Lock()
	u.closeExitLocked()
	u.mu.Unlock()
	return true
}

// acceptStopLocked marks a serving process as stopping, which refuses
// every later upgrade, or says why it does not serve.
func (u *Upgrader) acceptStopLocked() error {
	switch {
	case u.lc.stopping || u.lc.state == StateStopped:
		return ErrStopped
	case u.lc.state == StateUpgrading:
		return ErrUpgradeInProgress
	case u.lc.state == StateDraining:
		return ErrHandedOver
	case u.lc.state != StateServing:
		return fmt.Errorf("%w: cannot stop before it serves", ErrNotReady)
	}
	u.lc.stopping = true
	return nil
}
