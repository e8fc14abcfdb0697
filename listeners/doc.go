// Package listeners keeps the named set of sockets and files a process
// serves from, so that the set can be handed to the next process.
//
// A Set opens a socket by name, or reuses the one it inherited under that
// name (from the previous process or from systemd socket activation).
// Export hands out dups of everything for a handoff; CloseUnclaimed drops
// what the new process did not ask for; Close releases the rest.
//
// The package has no process logic and no wire format: the upgrader
// package moves the descriptors.
package listeners
