package upgrader

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/handoff-go/handoff/control"
	"github.com/handoff-go/handoff/internal/wire"
)

// transitions lists every change of state a generation may go through,
// from each state to the states it may enter: the one place to read the
// lifecycle, and to extend it. Every change goes through enterLocked.
var transitions = map[control.State][]control.State{
	// Ready begins; or Stop.
	control.StateStarting: {control.StateReadying, control.StateStopped},
	// The predecessor acknowledged (or there is none); a cold start's Ready
	// failed and may be retried; the predecessor refused; or Stop.
	control.StateReadying: {control.StateServing, control.StateStarting, control.StateDraining, control.StateStopped},
	// An upgrade or takeover begins; GiveBack on probation; or Stop.
	control.StateServing: {control.StateUpgrading, control.StateDraining, control.StateStopped},
	// It failed; or the successor is ready, watched on probation or not.
	// Stop waits for the outcome.
	control.StateUpgrading: {control.StateServing, control.StateProbation, control.StateDraining},
	// The successor died or gave the service back: serving again (rolled
	// back); or it passed. Stop ends probation as passed.
	control.StateProbation: {control.StateServing, control.StateDraining},
	// Stop, once drained.
	control.StateDraining: {control.StateStopped},
}

// lifecycle is the state every method of an Upgrader shares. Upgrader.mu
// guards it, and only the ...Locked methods in this file change it: they
// expect mu held and never block, call out, or touch the set, the files
// or the control socket; their callers do that after unlocking, from what
// the method returned.
type lifecycle struct {
	state    control.State
	owner    bool       // this process serves the set (ready, or a cold start)
	stopping bool       // Stop was called or a stop requested: no upgrade may start
	exit     ExitReason // why Exit closed; "" until it does

	draining []control.Peer // older generations still draining

	cancel      context.CancelFunc // cancels the running upgrade
	upgradeDone chan struct{}      // closed when the running upgrade has ended
	next        *wire.Conn         // to the successor, held until Stop
	last        *control.UpgradeRecord

	// endProbation, closed by Stop, ends this generation's watch over its
	// successor early, as passed; nil unless on probation.
	endProbation chan struct{}
	// trial is open while this generation is the successor on probation:
	// its predecessor watches it and serves again if it dies or gives
	// back. Closed (and set to nil) once the verdict is in.
	trial chan struct{}
}

func newLifecycle(cold bool, prev *prevGen) lifecycle {
	lc := lifecycle{state: control.StateStarting, owner: cold}
	if prev != nil {
		lc.draining = prev.draining
	}
	return lc
}

// enterLocked moves to state to. A change transitions does not list is a
// bug in this package, not a caller's mistake.
func (u *Upgrader) enterLocked(to control.State) {
	if !slices.Contains(transitions[u.lc.state], to) {
		panic(fmt.Sprintf("upgrader: lifecycle: %s to %s is not a transition", u.lc.state, to))
	}
	u.lc.state = to
}

// closeExitLocked closes Exit, the first time only, and records why: the
// one place Exit closes.
func (u *Upgrader) closeExitLocked(why ExitReason) {
	if u.lc.exit == "" {
		u.lc.exit = why
		close(u.exit)
	}
}

// closeExit is closeExitLocked for callers that have told their client
// first: once Exit closes the application may drain in microseconds and
// Stop, hanging up on it.
func (u *Upgrader) closeExit(why ExitReason) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.closeExitLocked(why)
}

// beginReady marks Ready running, or says why it may not run.
func (u *Upgrader) beginReady() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch u.lc.state {
	case control.StateStarting:
		u.enterLocked(control.StateReadying)
		return nil
	case control.StateStopped, control.StateDraining:
		return ErrStopped
	}
	return ErrAlreadyReady
}

// endReadyLocked records how Ready's handshake went and reports whether
// this process now serves.
// With onTrial, the predecessor watches this generation on probation.
func (u *Upgrader) endReadyLocked(err error, onTrial bool) bool {
	if u.lc.state != control.StateReadying {
		return false // stopped meanwhile
	}
	switch {
	case err != nil && u.mode == ModeCold:
		u.enterLocked(control.StateStarting) // still the owner: the caller may retry or Stop
		return false
	case err != nil:
		// The predecessor kept the set; this process must go.
		u.enterLocked(control.StateDraining)
		u.closeExitLocked(ExitReadyRefused)
		return false
	}
	u.enterLocked(control.StateServing)
	u.lc.owner = true
	if onTrial {
		u.lc.trial = make(chan struct{})
	}
	if u.prev != nil {
		u.lc.draining = append(u.lc.draining, u.prev.peer)
	}
	return true
}

// notServingLocked says why this generation may neither start an upgrade
// nor accept a stop request now; nil when it may.
func (u *Upgrader) notServingLocked() error {
	switch {
	case u.lc.stopping || u.lc.state == control.StateStopped:
		return ErrStopped
	case u.lc.state == control.StateUpgrading:
		return ErrUpgradeInProgress
	case u.lc.state == control.StateProbation:
		return ErrOnProbation
	case u.lc.state == control.StateDraining:
		return ErrHandedOver
	case u.lc.state != control.StateServing:
		return ErrNotReady
	}
	return nil
}

// beginUpgradeLocked checks that an upgrade may start and marks it
// running. It returns the draining generations to pass on.
func (u *Upgrader) beginUpgradeLocked(cancel context.CancelFunc) ([]control.Peer, error) {
	if err := u.notServingLocked(); err != nil {
		return nil, err
	}
	u.lc.draining = pruneGone(u.lc.draining)
	if len(u.lc.draining) >= u.opts.MaxDraining {
		return nil, fmt.Errorf("%w: %d of %d allowed (pids %v)", ErrTooManyDraining,
			len(u.lc.draining), u.opts.MaxDraining, pidsOf(u.lc.draining))
	}
	u.enterLocked(control.StateUpgrading)
	u.lc.cancel = cancel
	u.lc.upgradeDone = make(chan struct{})
	return append([]control.Peer(nil), u.lc.draining...), nil
}

// endUpgradeLocked records the outcome of an upgrade and returns the
// channel to close once the caller has acted on it. On success next is
// the connection to the successor, held open until this process stops so
// that the successor learns when this one is gone. Exit stays open until
// the caller has told its client (closeExit).
func (u *Upgrader) endUpgradeLocked(newPID int, next *wire.Conn, err error) chan struct{} {
	done := u.lc.upgradeDone
	u.lc.cancel, u.lc.upgradeDone = nil, nil
	u.lc.last = &control.UpgradeRecord{At: time.Now(), NewPID: newPID}
	u.lc.endProbation = nil
	if err != nil {
		u.lc.last.Error = err.Error()
		u.lc.last.RolledBack = errors.Is(err, ErrRolledBack)
		u.enterLocked(control.StateServing)
		return done
	}
	u.enterLocked(control.StateDraining)
	u.lc.next = next
	u.lc.owner = false
	return done
}

// endReplaceLocked records a replacement (the runhooks Replace hook) that
// worked: this process serves on, the owner of the set. It returns the
// channel to close once the caller has told systemd.
func (u *Upgrader) endReplaceLocked(newPID int) chan struct{} {
	done := u.lc.upgradeDone
	u.lc.cancel, u.lc.upgradeDone = nil, nil
	u.lc.last = &control.UpgradeRecord{At: time.Now(), NewPID: newPID}
	u.enterLocked(control.StateServing)
	return done
}

// acceptStopLocked marks a serving process as stopping, which refuses
// every later upgrade, or says why it does not serve. The caller answers
// its client, then closes Exit (ExitStopRequested).
func (u *Upgrader) acceptStopLocked() error {
	err := u.notServingLocked()
	if errors.Is(err, ErrNotReady) {
		return fmt.Errorf("%w: cannot stop before it serves", ErrNotReady)
	}
	if err == nil {
		u.lc.stopping = true
	}
	return err
}

// beginStopLocked refuses every later upgrade and cancels a running one.
// It returns the channel that closes when that upgrade has ended (nil if
// none runs): Stop waits for it before stopLocked.
func (u *Upgrader) beginStopLocked() chan struct{} {
	u.lc.stopping = true
	if u.lc.cancel != nil {
		u.lc.cancel()
	}
	if u.lc.endProbation != nil {
		close(u.lc.endProbation)
		u.lc.endProbation = nil
	}
	return u.lc.upgradeDone
}

// beginProbationLocked marks the successor ready and watched, and returns
// the channel Stop closes to end the watch early.
func (u *Upgrader) beginProbationLocked() <-chan struct{} {
	u.enterLocked(control.StateProbation)
	u.lc.endProbation = make(chan struct{})
	if u.lc.stopping { // Stop came while the successor got ready
		close(u.lc.endProbation)
		ch := u.lc.endProbation
		u.lc.endProbation = nil
		return ch
	}
	return u.lc.endProbation
}

// trialLocked returns the channel that closes when this generation's
// probation is over, or nil when it is not on probation.
func (u *Upgrader) trialLocked() chan struct{} { return u.lc.trial }

// endTrialLocked records that this generation's probation is over and
// reports whether it was still running.
func (u *Upgrader) endTrialLocked() bool {
	if u.lc.trial == nil {
		return false
	}
	close(u.lc.trial)
	u.lc.trial = nil
	return true
}

// giveBackLocked hands the service back to the predecessor that watches
// this generation on probation: this generation drains. The caller tells
// the predecessor, then closes Exit (ExitGaveBack).
func (u *Upgrader) giveBackLocked() error {
	if err := u.notServingLocked(); err != nil {
		return fmt.Errorf("upgrader: give back: %w", err)
	}
	if !u.endTrialLocked() {
		return ErrNotOnProbation
	}
	u.enterLocked(control.StateDraining)
	u.lc.owner = false
	return nil
}

// stopLocked marks this generation stopped and returns what the caller
// must close, and whether this process was the set's last owner.
func (u *Upgrader) stopLocked() (next *wire.Conn, final, already bool) {
	if u.lc.state == control.StateStopped {
		return nil, false, true
	}
	u.enterLocked(control.StateStopped)
	u.closeExitLocked(ExitStopped)
	next, u.lc.next = u.lc.next, nil
	return next, u.lc.owner, false
}

// dropDrainingLocked forgets p, a draining generation that is gone.
func (u *Upgrader) dropDrainingLocked(p control.Peer) {
	u.lc.draining = slices.DeleteFunc(u.lc.draining, func(d control.Peer) bool { return d == p })
}

// snapshotLocked copies what the status reports of the lifecycle.
func (u *Upgrader) snapshotLocked() (state control.State, draining []control.Peer, last *control.UpgradeRecord) {
	u.lc.draining = pruneGone(u.lc.draining)
	draining = append([]control.Peer{}, u.lc.draining...)
	if u.lc.last != nil {
		rec := *u.lc.last
		last = &rec
	}
	return u.lc.state, draining, last
}

func pidsOf(ps []control.Peer) []int {
	pids := make([]int, len(ps))
	for i, p := range ps {
		pids[i] = p.PID
	}
	return pids
}

func oneLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
