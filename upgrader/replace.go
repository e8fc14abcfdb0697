package upgrader

import (
	"context"
	"errors"
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
	if err != nil {
		err = asUpgradeError(pid, err)
		u.endUpgrade(pid, nil, err) // a rollback too: the old child serves on
	} else {
		u.endReplace(pid)
	}
	report.done(pid, err)
	return pid, err
}

// asUpgradeError keeps an *UpgradeError or a *RollbackError as it is and
// wraps anything else, so that callers of Upgrade branch the same way
// whoever replaced the process.
func asUpgradeError(pid int, err error) error {
	_, failed := errors.AsType[*UpgradeError](err)
	if _, rolledBack := errors.AsType[*RollbackError](err); failed || rolledBack {
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
