package upgrader

import (
	"encoding/json"

	"github.com/handoff-go/handoff/internal/wire"
	"github.com/handoff-go/handoff/listeners"
)

// Status describes this process's generation, for `handoff status`.
type Status struct {
	PID         int              `json:"pid"`
	Generation  uint64           `json:"generation"`
	Mode        Mode             `json:"mode"`
	State       State            `json:"state"`
	Listeners   []listeners.Info `json:"listeners"`
	Draining    []Peer           `json:"draining"` // older generations in StateDraining
	MaxDraining int              `json:"max_draining"`
	LastUpgrade *UpgradeRecord   `json:"last_upgrade,omitempty"`
	// Detail is what Options.StatusDetail reports (a supervisor's
	// children, say), as JSON.
	Detail json.RawMessage `json:"detail,omitempty"`

	// A status over the control socket lists at most a frame's worth of
	// listeners: Listeners holds ListenersTotal's [ListenersFrom, ...).
	ListenersFrom  int `json:"listeners_from,omitempty"`
	ListenersTotal int `json:"listeners_total"`
}

// Status reports this generation's state.
func (u *Upgrader) Status() Status {
	st := Status{PID: u.pid, Generation: u.self.Generation, Mode: u.mode,
		MaxDraining: u.opts.MaxDraining, Draining: []Peer{}}
	u.mu.Lock()
	u.pruneDrainingLocked()
	st.State = u.lc.state
	st.Draining = append(st.Draining, u.lc.draining...)
	if u.lc.last != nil {
		rec := *u.lc.last
		st.LastUpgrade = &rec
	}
	u.mu.Unlock()
	st.Listeners = u.set.List()
	st.ListenersTotal = len(st.Listeners)
	st.Detail = u.statusDetail()
	return st
}

// statusPageBudget is how much of a frame a status page may fill with
// listeners; the rest of the status is far smaller than the slack.
const statusPageBudget = wire.MaxFrameSize - 64<<10

// statusPage is Status with the listeners from index from on that fit in
// one frame.
func (u *Upgrader) statusPage(from int) Status {
	st := u.Status()
	all := st.Listeners
	from = min(max(from, 0), len(all))
	size, end := 0, from
	for ; end < len(all); end++ {
		b, _ := json.Marshal(all[end])
		if size += len(b) + 1; size > statusPageBudget {
			break
		}
	}
	st.Listeners, st.ListenersFrom = all[from:end], from
	return st
}
