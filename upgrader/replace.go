package upgrader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// ReplaceFunc replaces what serves behind this process's sockets without
// handing them on: a supervisor sets it to start a new child and retire the
// old one. It reports each step through progress (the Event* constants, or
// its own) and returns the pid that now serves, or an error; it must
// return soon after ctx ends (the upgrade timeout, or Stop), having undone
// what it started.
type ReplaceFunc func(ctx context.Context, progress func(event string, pid int, detail string)) (newPID int, err error)

// replace runs one upgrade through Options.Replace: the same one-at-a-time
// rule, timeout, systemd notifications and control-socket reporting as a
// handoff, but on success this process keeps the set and serves on.
func (u *Upgrader) replace(ctx context.Context, report reporter) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, u.opts.UpgradeTimeout)
	defer cancel()
	if _, err := u.begin("upgrade", cancel, report); err != nil {
		report.done(0, err)
		return 0, err
	}
	pid, err := u.opts.Replace(ctx, report.send)
	if err != nil {
		err = asUpgradeError(pid, err)
		u.endUpgrade(pid, nil, err)
	} else {
		u.endReplace(pid)
	}
	report.done(pid, err)
	return pid, err
}

// asUpgradeError keeps an *UpgradeError as it is and wraps anything else,
// so that callers of Upgrade branch the same way for both kinds.
func asUpgradeError(pid int, err error) error {
	if _, ok := errors.AsType[*UpgradeError](err); ok {
		return err
	}
	return &UpgradeError{Step: "replace", PID: pid, Err: err}
}

// endReplace records a replacement that worked: this process serves on,
// the owner of the set.
func (u *Upgrader) endReplace(newPID int) {
	u.mu.Lock()
	done := u.endReplaceLocked(newPID)
	u.mu.Unlock()
	defer close(done)
	notify("READY=1")
	u.log.Info("replaced", "new_pid", newPID)
}

// maxStatusDetail bounds Options.StatusDetail's JSON, so that a status
// page always fits in a frame.
const maxStatusDetail = 32 << 10

// statusDetail encodes what Options.StatusDetail reports, for Status.
func (u *Upgrader) statusDetail() json.RawMessage {
	if u.opts.StatusDetail == nil {
		return nil
	}
	b, err := json.Marshal(u.opts.StatusDetail())
	if err == nil && len(b) > maxStatusDetail {
		err = fmt.Errorf("%d bytes of JSON exceed the limit of %d", len(b), maxStatusDetail)
	}
	if err != nil {
		b, _ = json.Marshal(fmt.Sprintf("status detail: %v", err))
	}
	return b
}
