// Package upgrader restarts a server with no downtime: the running process
// starts the next one, hands it its listening sockets (the very same kernel
// sockets, passed as SCM_RIGHTS over a Unix socket), and stops accepting
// only once the next one says it is ready.
//
// A server creates one Upgrader with New, opens its listeners through it,
// calls Ready once it serves, and drains when Exit is closed:
//
//	u, err := upgrader.New(upgrader.Options{PIDFile: "/run/app.pid"})
//	if err != nil { ... }
//	defer u.Stop()
//	ln, err := u.Listen("http", "tcp", ":8080")
//	if err != nil { ... }
//	go srv.Serve(ln)
//	go u.UpgradeOnSignal(ctx, syscall.SIGHUP)
//	if err := u.Ready(); err != nil { ... }
//	<-u.Exit() // handed over (or stopped): drain and return
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
// While it drains, a generation can also hand its idle plaintext HTTP/1.1
// keep-alive connections to the next one, so that no client sees the
// restart: see ConnMover.
//
// One goroutine owns the lifecycle state; every method is safe for
// concurrent use.
package upgrader
