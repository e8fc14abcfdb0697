// Package listeners keeps the named set of sockets and files a process
// serves from, so that the set can be handed to the next process.
//
// A Set opens a socket by name, or reuses the one it inherited under that
// name (from the previous process or from systemd socket activation).
// Lend passes the members' own descriptors to a send function for a
// handoff (Export hands out dups instead, for callers that keep them);
// CloseUnclaimed drops what the new process did not ask for; Close
// releases the rest.
//
// # Who owns which descriptor
//
// The Set owns exactly one descriptor per member and closes it in Close or
// CloseUnclaimed. Everything it returns is a separate dup the caller owns:
// closing a listener from Listen stops this process accepting on it, but
// the member, and every other process's copy of the socket, stay open.
// Inherit takes ownership of the descriptors it is given, even on error;
// Export gives the caller new ones; Lend only lends the Set's own, for the
// duration of its send function. Descriptors are read through
// SyscallConn().Control and never through Fd or File, which would switch
// the shared socket to blocking mode under the other process's feet.
//
// # Unix socket files
//
// Only the Set removes socket files, and only when told: Close(true),
// CloseUnclaimed, or when a dead process left a file nobody answers on.
// Listeners it returns never unlink on Close, so an old process exiting
// after a handoff does not delete the path the new one serves.
//
// # Platforms
//
// On Unix systems descriptors can be exported and inherited. Elsewhere
// (Windows, Plan 9, WebAssembly) Listen, ListenPacket and File open plain
// sockets and files, Export, Lend and Inherit return ErrNotSupported, and
// InheritSystemd finds nothing.
//
// The package has no process logic and no wire format: the upgrader
// package moves the descriptors.
package listeners
