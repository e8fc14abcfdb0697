package upgrader

import (
	"encoding/json"

	"github.com/handoff-go/handoff/listeners"
)

// Status describes this process's generation, for `handoff status`.
type Status struct {
	PID         int              `json:"pid"`
	Generation  uint64           `json:"generation"`
	Mode        Mode             `json:"mode"`
	State       string           `json:"state"` // starting, readying, serving, upgrading, draining, stopped
	Listeners   []listeners.Info `json:"listeners"`
	Draining    []Peer           `json:"draining"` // older generations still draining
	MaxDraining int              `json:"max_draining"`
	LastUpgrade *UpgradeRecord   `json:"last_upgrade,omitempty"`
	Detail      json.RawMessage  `json:"detail,omitempty"` // from Options.StatusDetail
}

// Status reports this generation's state.
func (u *Upgrader) Status() Status {
	st := Status{PID: u.pid, Generation: u.gen, Mode: u.mode, State: phaseStopped.String(),
		MaxDraining: u.opts.MaxDraining, Draining: []Peer{}}
	u.do(func(s *state) {
		s.pruneDraining()
		st.State = s.phase.String()
		st.Draining = append(st.Draining, s.draining...)
		if s.last != nil {
			rec := *s.last
			st.LastUpgrade = &rec
		}
	})
	st.Listeners = u.set.List()
	st.Detail = u.statusDetail()
	return st
}
