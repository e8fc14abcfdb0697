package upgrader

import (
	"fmt"

	"github.com/handoff-go/handoff/internal/sdnotify"
	"golang.org/x/sys/unix"
)

// notify sends state to systemd (sd_notify(3)) when NOTIFY_SOCKET is set.
// Failures are ignored, as systemd ignores a service that cannot talk to it.
func notify(state string) {
	_ = sdnotify.Send(state)
}

// notifyReloading tells systemd an upgrade started; MONOTONIC_USEC lets it
// match the READY=1 that ends the reload (systemd 253+).
func notifyReloading() {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		notify("RELOADING=1")
		return
	}
	usec := ts.Sec*1e6 + ts.Nsec/1e3
	notify(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", usec))
}
