package upgrader

import (
	"context"
	"os"
	"os/signal"
)

// UpgradeOnSignal runs an upgrade each time one of sigs arrives (SIGHUP is
// the convention), until stop is called. The signals are caught from the
// moment it returns, so call it before Ready: a signal sent as soon as the
// pid file appears never meets its default action (for SIGHUP, death).
// They stay caught after this process has handed over, so a signal meant
// for the new pid that reaches the draining one is ignored, not fatal.
// Failed upgrades are logged and leave this process serving; the next
// signal tries again.
func (u *Upgrader) UpgradeOnSignal(sigs ...os.Signal) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case sig := <-ch:
				select {
				case <-u.exit:
					u.log.Info("signal ignored: this generation is draining", "signal", sig.String())
					continue
				default:
				}
				u.log.Info("upgrade requested", "signal", sig.String())
				u.Upgrade(ctx) // endUpgrade logs a failure
			}
		}
	}()
	return func() { cancel(); <-done }
}
