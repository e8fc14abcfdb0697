// Package runhooks is how `handoff run` reaches inside the upgrader it
// embeds: it replaces what an upgrade does and adds to the status, two
// things no other server needs, so they stay out of upgrader.Options.
package runhooks

import "context"

// ControlName is the set member that holds the upgrader's control socket:
// it travels with the listeners, and `handoff run` does not pass it to
// its children.
const ControlName = "handoff-control"

// Hooks change what an upgrader does; the zero Hooks change nothing.
type Hooks struct {
	// Replace, if set, is what an upgrade does instead of starting the
	// next generation: a supervisor starts a new child and retires the
	// old one, and stays the owner of the sockets. It reports each step
	// through progress (control's Event constants, or its own) and returns
	// the pid that now serves, or an error; it must return soon after ctx
	// ends (the upgrade timeout, or Stop), having undone what it started.
	Replace func(ctx context.Context, progress func(event string, pid int, detail string)) (newPID int, err error)
	// StatusDetail, if set, adds its value (JSON-encoded) to the status.
	StatusDetail func() any
}

// Install sets h on opts, an *upgrader.Options, before upgrader.New. The
// upgrader sets this variable when it is initialised: only it can reach
// the Options' unexported fields, and it cannot be named here without an
// import cycle.
var Install func(opts any, h Hooks)
