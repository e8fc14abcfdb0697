// Package upgrader restarts a server with no downtime: the running process
// starts the next one, hands it its listening sockets (the very same kernel
// sockets, passed as SCM_RIGHTS over a Unix socket), and stops accepting
// only once the next one says it is ready.
//
// A server creates one Upgrader with New, opens its listeners through it,
// calls Ready once it serves, and drains when Exit is closed (ExitReason
// says why it closed). Start from the examples:
//
//   - Example, in upgrader/example_test.go (go doc does not show
//     examples; pkg.go.dev does): the whole life of an HTTP server, SIGHUP
//     upgrades, SIGTERM drains;
//   - examples/demo: that server with flags, TLS and logging, the one the
//     README runs;
//   - examples/echo: a raw TCP server, drained with package conndrain,
//     whose connections stay with the generation that accepted them.
//
// A process comes to life in one of three modes. Cold: nothing to inherit
// (sockets may still come from systemd socket activation). Child: an
// upgrading parent started it and passed one end of a socketpair in the
// HANDOFF_FD environment variable. Takeover: someone else started it (an
// operator, systemd, a supervisor) and it found a live process answering on
// Options.ControlPath, which hands its set over exactly as to a child.
//
// If the next process exits, hangs past Options.UpgradeTimeout or breaks
// the protocol before it is ready, the running process kills it (when it is
// its child), keeps serving, and Upgrade returns an *UpgradeError saying
// which step failed and why.
//
// Once the next process is ready, the running one stops accepting but
// keeps its sockets and connections for Options.Probation (default 5 s)
// and watches it. If it dies, hangs up or gives the service back
// (GiveBack) in that time, the running process accepts again at once
// (connections that queued meanwhile included) and serves, and Upgrade
// returns a *RollbackError; otherwise it drains as usual. The old
// process's Accept is paused, not closed: the kernel's queue belongs to
// the socket, so nothing is refused while the new process lives or dies.
//
// While it drains, a generation can also hand its idle plaintext HTTP/1.1
// keep-alive connections to the next one, so that no client sees the
// restart: see ConnMover.
//
// Under systemd, a unit with a file descriptor store
// (FileDescriptorStoreMax=, and $FDSTORE, which systemd 254+ sets and
// older units set themselves) gets every listener of the set stored by
// name once a generation serves, the control socket excepted: after a
// crash with nobody to hand over to, the restarted service inherits the
// same sockets through LISTEN_FDS and LISTEN_FDNAMES, and no client is
// refused meanwhile. See docs/OPERATING.md and
// examples/systemd/demo-fdstore.service.
//
// With Options.ControlPath set, the process answers on a Unix socket:
// `handoff status`, `handoff upgrade`, `handoff stop` and any program
// built on package control.
//
// Every method is safe for concurrent use. One mutex guards the lifecycle
// state, which changes only through the transitions listed in one place;
// nothing that can block (the handoff itself, the set, files, sockets)
// runs while it is held.
//
// # Trust
//
// Every byte, fd and pid from another process is checked. The control
// socket admits only peers of this process's user or root, bounds their
// requests, and never reads from one it refused. A taking-over process
// checks the server's user before it speaks; where the kernel can say who
// wrote a message (Linux SCM_CREDENTIALS) that beats the pid a peer
// declares, and the draining generations a peer names are checked here
// (same user, same start time). Inherited sockets must be what and where
// their entries say (see listeners.Set.Inherit).
package upgrader
