package upgrader

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// notify sends state to systemd's notification socket (sd_notify(3)) when
// NOTIFY_SOCKET is set; otherwise it does nothing. Failures are ignored, as
// systemd ignores a service that cannot talk to it.
func notify(state string) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return
	}
	if path[0] == '@' { // abstract namespace
		path = "\x00" + path[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return
	}
	defer c.Close()
	c.Write([]byte(state))
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
