package upgrader

import (
	"encoding/json"
	"fmt"

	"github.com/handoff-go/handoff/control"
	"github.com/handoff-go/handoff/internal/wire"
)

// status reports this generation's state, as the control socket serves it.
func (u *Upgrader) status() control.Status {
	st := control.Status{PID: u.pid, Generation: u.self.Generation, Mode: string(u.mode),
		MaxDraining: u.opts.MaxDraining}
	u.mu.Lock()
	st.State, st.Draining, st.LastUpgrade = u.snapshotLocked()
	u.mu.Unlock()
	st.Listeners = u.set.List()
	st.ListenersTotal = len(st.Listeners)
	st.Detail = u.statusDetail()
	return st
}

// statusPageBudget is how much of a frame a status page may fill with
// listeners; the rest of the status is far smaller than the slack.
const statusPageBudget = wire.MaxFrameSize - 64<<10

// statusPage is the status with the listeners from index from on that
// fit in one frame.
func (u *Upgrader) statusPage(from int) control.Status {
	st := u.status()
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

// maxStatusDetail bounds the StatusDetail hook's JSON, so that a status
// page always fits in a frame.
const maxStatusDetail = 32 << 10

// statusDetail encodes what the StatusDetail hook reports.
func (u *Upgrader) statusDetail() json.RawMessage {
	if u.opts.hooks.StatusDetail == nil {
		return nil
	}
	b, err := json.Marshal(u.opts.hooks.StatusDetail())
	if err == nil && len(b) > maxStatusDetail {
		err = fmt.Errorf("%d bytes of JSON exceed the limit of %d", len(b), maxStatusDetail)
	}
	if err != nil {
		b, _ = json.Marshal(fmt.Sprintf("status detail: %v", err))
	}
	return b
}
