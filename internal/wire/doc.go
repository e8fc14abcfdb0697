// Package wire is the control protocol that handoff processes speak over an
// AF_UNIX stream socket: length-prefixed, versioned frames with JSON bodies,
// and file descriptors carried as SCM_RIGHTS in acknowledged batches.
//
// Everything read from a Conn is untrusted: every frame has a size limit,
// every read and write a deadline, every fd count is checked against what
// was announced, and on any error every fd received so far is closed.
//
// The package knows nothing about processes or listeners; it only moves
// messages and descriptors.
package wire
