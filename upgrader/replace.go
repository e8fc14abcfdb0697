package upgrader

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// replace runs one upgrade through `handoff run`'s Replace hook (see
// runhooks.Hooks): the same one-at-a-time rule, timeout, systemd
// notifications and control-socket reporting as an upgrade, but on
// success this process keeps the set and serves on.
func (u *Upgrader) replace(ctx context.Context, report reporter) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, u.opts.UpgradeTimeout)
	defer cancel()
	if _, err := u.beginUpgrade("upgrade", cancel, report); err != nil {
		report.done(0, err)
		return 0, err
	}
	pid, err := u.opts.hooks.Replace(ctx, report.send)
	switch {
	case errors.Is(err, ErrRolledBack):
		err = asUpgradeError(pid, err)
		u.endRollBack(pid, err)
	case err != nil:
		err = asUpgradeError(pid, err)
		u.endUpgrade(pid, nil, err)
	default:
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

// endRollBack records a replacement whose new process became ready, then
// died on probation: this process serves on as before, and its status and
// systemd's STATUS= say the upgrade rolled back.
func (u *Upgrader) endRollBack(newPID int, err error) {
	u.mu.Lock()
	done := u.endUpgradeLocked(newPID, nil, err)
	u.lc.last.RolledBack = true
	u.mu.Unlock()
	defer close(done)
	why := err.Error()
	if ue, ok := errors.AsType[*UpgradeError](err); ok {
		why = strings.TrimPrefix(ue.Err.Error(), ErrRolledBack.Error()+": ")
	}
	u.log.Error("upgrade rolled back", "new_pid", newPID, "err", err)
	notify(fmt.Sprintf("STATUS=rolled back: %s\nREADY=1", oneLine(why)))
}
