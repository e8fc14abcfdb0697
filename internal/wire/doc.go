// Package wire is the control protocol that handoff processes speak over an
// AF_UNIX stream socket: length-prefixed, versioned frames with JSON bodies,
// and file descriptors carried as SCM_RIGHTS in acknowledged batches.
//
// The protocol itself, with every message, limit and deadline, is specified
// in docs/PROTOCOL.md at the root of the module; this package is its
// transport half, and package upgrader holds the conversations.
//
// A frame is an 8-byte header, 'H' 'O', the protocol Version, the Type and
// the body length as a big-endian uint32, followed by the JSON body (at
// most MaxFrameSize bytes). See PROTOCOL.md §2.
//
// SendFiles and RecvFiles hand over descriptors (PROTOCOL.md §4):
//
//	sender                          receiver
//	Manifest{Count}          ->     checks Count against SetMaxFDs
//	Batch{Seq: 0, Entries}   ->     checks seq, entries and fd count
//	  + fds as SCM_RIGHTS
//	Batch{Seq: 1, ...}       ->     (up to 8 batches ahead of the Acks)
//	                         <-     Ack{Seq: 0, Count}
//	... until Count fds went and every batch is acked
//
// Either side may send Abort{Reason} instead, which the other returns as an
// *AbortError. Each Batch is one sendmsg whose data is the whole frame, so
// the fds arrive with the frame's own bytes.
//
// Everything read from a Conn is untrusted: every frame has a size limit,
// every read and write a deadline, every fd count is checked against what
// was announced, and on any error every fd received so far is closed.
//
// The package knows nothing about processes or listeners; it only moves
// messages and descriptors. Where there is no SCM_RIGHTS (Windows) a Conn
// fails every read and write with an error wrapping errors.ErrUnsupported.
package wire
