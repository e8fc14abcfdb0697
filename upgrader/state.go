package upgrader

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/handoff-go/handoff/internal/wire"
)

type phase int

const (
	phaseStarting   phase = iota // New returned, Ready not called
	phaseReadying                // Ready is finishing the handoff from the parent
	phaseServing                 // ready, no upgrade running
	phaseUpgrading               // an upgrade or takeover is running
	phaseHandedOver              // the next generation owns the set; draining
	phaseStopped                 // Stop was called; the loop ends
)

var phaseNames = [...]string{"starting", "readying", "serving", "upgrading", "draining", "stopped"}

func (p phase) String() string { return phaseNames[p] }

// Peer is another generation of this server.
type Peer struct {
	PID        int    `json:"pid"`
	Generation uint64 `json:"generation"`
}

// UpgradeRecord describes the last upgrade this process attempted.
type UpgradeRecord struct {
	At     time.Time `json:"at"`
	NewPID int       `json:"new_pid,omitempty"`
	Error  string    `json:"error,omitempty"`
}

// state is owned by the loop goroutine: only functions passed to
// Upgrader.do touch it.
type state struct {
	phase       phase
	maxDraining int
	owner       bool // this process is the one serving the set (ready, or cold)
	stopping    bool // Stop is waiting for a running upgrade to end
	exited      bool // the exit channel is closed

	draining []Peer // older generations still draining
	parent   Peer   // the generation this one inherited from, if any

	cancel      context.CancelFunc // cancels the running upgrade
	upgradeDone chan struct{}      // closed when the running upgrade ends
	next        *wire.Conn         // to the next generation, held until we stop
	ctl         *controlServer
	last        *UpgradeRecord
}

func (s *state) beginReady() error {
	switch s.phase {
	case phaseStarting:
		s.phase = phaseReadying
		return nil
	case phaseStopped, phaseHandedOver:
		return ErrStopped
	default:
		return ErrAlreadyReady
	}
}

// endReady records how Ready went and reports whether this process now
// serves.
func (s *state) endReady(u *Upgrader, err error) bool {
	if s.phase != phaseReadying {
		return false // stopped meanwhile
	}
	if err != nil {
		if u.mode == ModeCold {
			s.phase = phaseStarting // still the owner: the caller may retry or Stop
			return false
		}
		// The previous generation kept the set; this process must go.
		s.phase = phaseHandedOver
		s.closeExit(u)
		return false
	}
	s.phase = phaseServing
	s.owner = true
	if u.parent != nil {
		s.draining = append(s.draining, s.parent)
		go u.watchParent()
	}
	if s.ctl != nil {
		go s.ctl.serve()
	}
	u.log.Info("ready", "mode", u.mode, "listeners", u.set.Len())
	return true
}

// beginUpgrade checks that an upgrade may start and marks it running. It
// returns the draining generations to pass on.
func (s *state) beginUpgrade(cancel context.CancelFunc) ([]Peer, error) {
	switch {
	case s.stopping || s.phase == phaseStopped:
		return nil, ErrStopped
	case s.phase == phaseUpgrading:
		return nil, ErrUpgradeInProgress
	case s.phase == phaseHandedOver:
		return nil, ErrHandedOver
	case s.phase != phaseServing:
		return nil, ErrNotReady
	}
	s.pruneDraining()
	if len(s.draining) >= s.maxDraining {
		return nil, fmt.Errorf("%w: %d of %d allowed (pids %v)", ErrTooManyDraining,
			len(s.draining), s.maxDraining, pidsOf(s.draining))
	}
	s.phase = phaseUpgrading
	s.cancel = cancel
	s.upgradeDone = make(chan struct{})
	return append([]Peer(nil), s.draining...), nil
}

// endUpgrade records the outcome of an upgrade. On success next is the
// connection to the new generation, held open until this process stops so
// that the new one learns when this one is gone; this process has let go
// of the set, and the caller closes Exit once it has told its client.
func (s *state) endUpgrade(u *Upgrader, newPID int, next *wire.Conn, err error) {
	close(s.upgradeDone)
	s.cancel, s.upgradeDone = nil, nil
	s.last = &UpgradeRecord{At: time.Now(), NewPID: newPID}
	if err != nil {
		s.last.Error = err.Error()
		s.phase = phaseServing
		u.log.Error("upgrade failed", "new_pid", newPID, "err", err)
		notify(fmt.Sprintf("STATUS=upgrade failed: %s\nREADY=1", oneLine(err.Error())))
		return
	}
	s.phase = phaseHandedOver
	s.next = next
	s.owner = false
	s.ctl.closeListener()
	u.set.Close(false)
	notify(fmt.Sprintf("MAINPID=%d\nREADY=1", newPID))
	u.log.Info("handed over", "new_pid", newPID)
}

func (s *state) stop(u *Upgrader) {
	if s.phase == phaseStopped {
		return
	}
	final := s.owner
	s.phase = phaseStopped
	s.closeExit(u)
	s.ctl.close()
	if s.next != nil {
		s.next.Close()
	}
	if u.parent != nil {
		u.parent.Close()
	}
	u.set.Close(final)
	if final {
		notify("STOPPING=1")
		removePIDFile(u.opts.PIDFile, u.pid)
	}
	u.log.Info("stopped", "final", final)
}

func (s *state) closeExit(u *Upgrader) {
	if !s.exited {
		s.exited = true
		close(u.exit)
	}
}

func (s *state) pruneDraining() {
	alive := s.draining[:0]
	for _, p := range s.draining {
		if processAlive(p.PID) {
			alive = append(alive, p)
		}
	}
	s.draining = alive
}

func (s *state) dropDraining(pid int) {
	for i, p := range s.draining {
		if p.PID == pid {
			s.draining = append(s.draining[:i], s.draining[i+1:]...)
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
