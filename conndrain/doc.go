// Package conndrain drains the connections of any net.Listener: wrap the
// listener, serve what it accepts as usual, and at the end call Drain,
// which stops accepting and waits, up to a deadline, until the application
// has closed every connection it accepted. It is for raw TCP (or Unix)
// protocols, where no server library tracks the connections for you; for
// net/http use httpdrain. It depends only on the standard library and
// works with any listener, an upgrader's included.
//
// Drain closes this process's listener, never shutdown(2) the socket: in
// a zero-downtime restart the next process accepts on the same socket,
// and the connections still queued in the kernel are its to take.
//
// When a connection may end is the protocol's business, not this
// package's: the application ends its sessions (a goodbye in its protocol,
// or closing after the current command) and closes them. Options.OnDrain,
// called for each connection as the drain starts, is where to tell a
// session, for instance by setting a read deadline that wakes a blocked
// Read. At the context's deadline Drain closes what is left and returns a
// *CutError saying how many it cut.
//
// The package starts no goroutine: Drain waits in its caller's.
package conndrain
