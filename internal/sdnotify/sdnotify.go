// Package sdnotify sends notifications to the service manager, as
// sd_notify(3) does: newline-separated assignments ("READY=1",
// "STATUS=...", "MAINPID=...") in one datagram to the socket named by
// NOTIFY_SOCKET, with descriptors attached for the fd store
// ("FDSTORE=1\nFDNAME=name"): Send with *os.File values, SendFDs with raw
// descriptors.
package sdnotify

import (
	"errors"
	"fmt"
	"os"
)

// EnvSocket names the service manager's notification socket: a path, or
// "@name" in Linux's abstract namespace.
const EnvSocket = "NOTIFY_SOCKET"

// errEmpty is returned for an empty state, which says nothing.
var errEmpty = errors.New("sdnotify: empty state")

// Send sends state to the socket NOTIFY_SOCKET names, with the descriptors
// of files attached (SCM_RIGHTS). Without NOTIFY_SOCKET (not run by a
// service manager) it does nothing and returns nil.
//
// The caller keeps ownership of files and must keep them open until Send
// returns: the service manager receives duplicates of their descriptors,
// and Send closes nothing.
func Send(state string, files ...*os.File) error {
	addr := os.Getenv(EnvSocket)
	if addr == "" {
		return nil
	}
	return SendTo(addr, state, files...)
}

// SendFDs is Send with raw descriptors, for a caller that holds them
// without an *os.File (listeners.Set.Lend): fds are attached as they are,
// in order. The caller keeps ownership of fds: the service manager
// receives duplicates, and SendFDs closes nothing.
func SendFDs(state string, fds []int) error {
	addr := os.Getenv(EnvSocket)
	if addr == "" {
		return nil
	}
	if state == "" {
		return errEmpty
	}
	if err := sendFDs(addr, []byte(state), fds); err != nil {
		return fmt.Errorf("sdnotify: send to %s: %w", addr, err)
	}
	return nil
}

// SendTo is Send to the datagram socket at addr (a path, or "@name" in
// Linux's abstract namespace), whatever NOTIFY_SOCKET says. Where service
// managers do not use this protocol (anywhere but Linux) it returns an
// error wrapping errors.ErrUnsupported.
func SendTo(addr, state string, files ...*os.File) error {
	if state == "" {
		return errEmpty
	}
	if err := send(addr, []byte(state), files); err != nil {
		return fmt.Errorf("sdnotify: send to %s: %w", addr, err)
	}
	return nil
}
