// Package quicroute lets a QUIC server (quic-go, HTTP/3) restart under the
// upgrader without losing a connection.
//
// A QUIC server keeps each connection's state in user space, so when two
// generations share one UDP socket after a handover, a packet the kernel
// gives to the wrong process is lost. quicroute fixes that by connection
// ID:
//
//   - Each generation's quic.Transport issues connection IDs of CIDLen
//     bytes whose first four bytes are its generation number (big endian);
//     the rest is random.
//   - The newest generation reads the shared UDP socket. A packet whose
//     destination connection ID names another generation that is still
//     alive is forwarded to it over a Unix datagram socket, with the
//     peer's address in front. Every other packet (Initial packets of new
//     connections, packets too short to carry a connection ID, a long
//     header whose connection ID length is not CIDLen, IDs of a generation
//     that is gone) goes to the newest generation's own transport, which
//     handles it as quic-go always does: it drops what it cannot parse.
//   - An older generation stops reading the shared socket (Router.Retire,
//     at Exit) but keeps its own copy of it to answer on directly, and reads
//     its forwarded packets from its Unix socket until it closes.
//
// Discovery: generation g listens for forwarded packets at
// Options.SocketPath(g); PathNextTo derives such paths from the control
// socket's path ("<control>.quic.<g>"), which lives in a directory private
// to the service's user. A generation removes its socket file when it
// closes; one that was killed leaves a file nobody reads, and a sender
// that finds it refused marks that generation gone (for a second, since a
// failed upgrade may reuse the number) and stops forwarding to it.
//
// Forwarding is bounded: each destination has a queue of Options.QueueLen
// packets and a writer goroutine; a full queue drops the packet and counts
// it (Stats.Dropped); packets for a transport or generation that has
// closed are counted apart (Stats.Late). Forwarded datagrams are validated (magic, address
// family, port, length) before they reach quic-go, which treats the QUIC
// bytes themselves as untrusted as always.
//
// Cost: a forwarded packet takes about 4.4 µs from the newest
// generation's read to the old generation's transport, against 0.2 µs for
// a packet the newest keeps (BenchmarkRouteForwarded and
// BenchmarkRouteLocal, 1,200-byte packets, one at a time, on a 2-core
// Xeon): two goroutine hand-offs and a send and receive on a Unix
// datagram socket. Only the packets of a draining generation's
// connections pay it, and only while it drains.
//
// Handshakes in flight at a handover: a client's first Initial carries a
// destination connection ID it chose itself, so it and its retransmits go
// to the newest generation. A retransmitted Initial that arrives after the
// handover while the old generation already answered the first one starts
// a second handshake in the new generation; the client keeps whichever
// server Initial came first and switches its destination connection ID to
// that server's, so its Handshake packets route to that generation and the
// other half-open connection times out. 0-RTT packets also carry the
// client-chosen connection ID and go to the newest generation; if the
// Initial they belong to went to an older one, the 0-RTT data is lost and
// the client sends it again as 1-RTT data once the handshake completes.
package quicroute
