package upgrader

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/handoff-go/handoff/internal/wire"
)

// State is where a generation is in its life, as Status reports it.
type State string

// The states, in the order a generation passes through them.
const (
	StateStarting  State = "starting"  // New returned; Ready not called
	StateReadying  State = "readying"  // Ready is finishing the handoff from the previous generation
	StateServing   State = "serving"   // ready; no upgrade running
	StateUpgrading State = "upgrading" // an upgrade or takeover is running
	// StateDraining: this generation has handed its sockets over (or
	// must go because its Ready was refused) and finishes what it has in
	// flight. Status.Draining lists the older generations in this state.
	StateDraining State = "draining"
	StateStopped  State = "stopped" // Stop was called
)

// Peer is another generation of this server. Start is its start time as
// the kernel counts it, so that a reused pid does not pass for it; it is 0
// where the platform does not say.
type Peer struct {
	PID        int    `json:"pid"`
	Generation uint64 `json:"generation"`
	Start      uint64 `json:"start,omitempty"`
}

// UpgradeRecord describes the last upgrade this process attempted.
type UpgradeRecord struct {
	At     time.Time `json:"at"`
	NewPID int       `json:"new_pid,omitempty"`
	Error  string    `json:"error,omitempty"`
}

// lifecycle is the state every method of an Upgrader shares. Upgrader.mu
// guards it; the ...Locked methods expect mu held and never block, call
// out, or touch the set, the files or the control socket: their callers
// do that after unlocking, from what the method returned.
type lifecycle struct {
	state    State
	owner    bool // this process serves the set (ready, or a cold start)
	stopping bool // Stop is waiting for a running upgrade to end
	exited   bool // the exit channel is closed

	draining []Peer // older generations still draining

	cancel      context.CancelFunc // cancels the running upgrade
	upgradeDone chan struct{}      // closed when the running upgrade has ended
	next        *wire.Conn         // to the next generation, held until Stop
	last        *UpgradeRecord
}

func (u *Upgrader) beginReady() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch u.lc.state {
	case StateStarting:
		u.lc.state = StateReadying
		return nil
	case StateStopped, StateDraining:
		return ErrStopped
	}
	return ErrAlreadyReady
}

// endReadyLocked records how Ready's handshake went and reports whether
// this process now serves.
func (u *Upgrader) endReadyLocked(err error) bool {
	if u.lc.state != StateReadying {
		return false // stopped meanwhile
	}
	switch {
	case err != nil && u.mode == ModeCold:
		u.lc.state = StateStarting // still the owner: the caller may retry or Stop
		return false
	case err != nil:
		// The previous generation kept the set; this process must go.
		u.lc.state = StateDraining
		u.closeExitLocked()
		return false
	}
	u.lc.state = StateServing
	u.lc.owner = true
	if u.prev != nil {
		u.lc.draining = append(u.lc.draining, u.prev.peer)
	}
	return true
}

// beginUpgradeLocked checks that an upgrade may start and marks it
// running. It returns the draining generations to pass on.
func (u *Upgrader) beginUpgradeLocked(cancel context.CancelFunc) ([]Peer, error) {
	switch {
	case u.lc.stopping || u.lc.state == StateStopped:
		return nil, ErrStopped
	case u.lc.state == StateUpgrading:
		return nil, ErrUpgradeInProgress
	case u.lc.state == StateDraining:
		return nil, ErrHandedOver
	case u.lc.state != StateServing:
		return nil, ErrNotReady
	}
	u.pruneDrainingLocked()
	if len(u.lc.draining) >= u.opts.MaxDraining {
		return nil, fmt.Errorf("%w: %d of %d allowed (pids %v)", ErrTooManyDraining,
			len(u.lc.draining), u.opts.MaxDraining, pidsOf(u.lc.draining))
	}
	u.lc.state = StateUpgrading
	u.lc.cancel = cancel
	u.lc.upgradeDone = make(chan struct{})
	return append([]Peer(nil), u.lc.draining...), nil
}

// endUpgradeLocked records the outcome of an upgrade and returns the
// channel to close once the caller has acted on it. On success next is
// the connection to the new generation, held open until this process
// stops so that the new one learns when this one is gone.
func (u *Upgrader) endUpgradeLocked(newPID int, next *wire.Conn, err error) chan struct{} {
	done := u.lc.upgradeDone
	u.lc.cancel, u.lc.upgradeDone = nil, nil
	u.lc.last = &UpgradeRecord{At: time.Now(), NewPID: newPID}
	if err != nil {
		u.lc.last.Error = err.Error()
		u.lc.state = StateServing
		return done
	}
	u.lc.state = StateDraining
	u.lc.next = next
	u.lc.owner = false
	return done
}

// endReplaceLocked records a replacement (Options.Replace) that worked:
// this process serves on, the owner of the set. It returns the channel to
// close once the caller has told systemd.
func (u *Upgrader) endReplaceLocked(newPID int) chan struct{} {
	done := u.lc.upgradeDone
	u.lc.cancel, u.lc.upgradeDone = nil, nil
	u.lc.last = &UpgradeRecord{At: time.Now(), NewPID: newPID}
	u.lc.state = StateServing
	return done
}

// stopLocked marks this generation stopped and returns what the caller
// must close, and whether this process was the set's last owner.
func (u *Upgrader) stopLocked() (next *wire.Conn, final, already bool) {
	if u.lc.state == StateStopped {
		return nil, false, true
	}
	u.lc.state = StateStopped
	u.closeExitLocked()
	next, u.lc.next = u.lc.next, nil
	return next, u.lc.owner, false
}

func (u *Upgrader) closeExitLocked() {
	if !u.lc.exited {
		u.lc.exited = true
		close(u.exit)
	}
}

func (u *Upgrader) pruneDrainingLocked() {
	u.lc.draining = pruneGone(u.lc.draining)
}

func (u *Upgrader) dropDrainingLocked(p Peer) {
	for i, d := range u.lc.draining {
		if d == p {
			u.lc.draining = append(u.lc.draining[:i], u.lc.draining[i+1:]...)
			return
		}
	}
}

func pidsOf(ps []Peer) []int {
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
