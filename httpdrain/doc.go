// Package httpdrain serves net/http so that stopping a server loses no
// request, even for clients that never retry, while another process (the
// next generation of a zero-downtime restart) keeps accepting on the same
// listening socket. It works with any net.Listener and depends only on the
// standard library.
//
// # Why http.Server.Shutdown loses requests
//
// Shutdown closes every idle keep-alive connection at once. An idle
// connection is one the client may use again at any moment: a request it
// sends as the connection closes meets EOF or a reset, and a client that
// does not retry reports an error. SetKeepAlivesEnabled(false) does the
// same. Shutdown also drops every request it finishes reading after it has
// started, typically one on a connection accepted just before, because the
// server checks whether it is shutting down after reading a request and
// before handling it.
//
// Counting connections is subtle too: a connection that Accept returned
// just before the listener closed becomes visible to http.Server (its
// ConnState hook and its own tracking) only once Serve moves on, so a
// drain that counts too early sees zero and closes a connection whose
// request is on its way.
//
// # How this package drains
//
// Server.Drain:
//
//  1. closes this process's descriptor of every listener (never shutdown(2),
//     which would stop the socket for the process that shares it; queued
//     connections stay in the kernel for that process), then closes the
//     channel returned by Server.Draining;
//  2. waits until every Serve call has returned, so that every accepted
//     connection is in the http.Server's hands;
//  3. adds "Connection: close" to every response whose headers are still
//     unwritten, including those of requests that started before the
//     drain, so that the server closes each connection right after its
//     current response and the client knows to open a new one (which the
//     next generation accepts);
//  4. closes a connection with no request in progress only after it has
//     been idle for Options.IdleGrace: a client using the connection sends
//     its next request before that and gets the answer with
//     "Connection: close". The close is decided on the server's own reader
//     goroutine, and bytes already queued in the socket are handed to the
//     server instead, so no request that reached the kernel before the
//     decision is lost;
//  5. returns nil when the connections it counted at the listener, plus
//     those registered with Server.Track, are all gone;
//  6. at Options.Deadline, or when the caller's context ends, closes the
//     rest, logs how many were cut, and returns a *CutError.
//
// The remaining risk is inherent to HTTP/1.1: a client that sends a
// request on a connection it has left idle for longer than IdleGrace, at
// the very moment the server closes it, loses that request. Clients must
// already handle this for any server's idle timeout; net/http's Transport
// retries such requests when they are idempotent.
//
// Hijacked connections (websockets, CONNECT tunnels) leave the
// http.Server's tracking but not the drain's: Drain waits until they are
// closed, or, for those registered with Server.Track, until the handler
// says it is done. Their handlers watch Server.Draining to end them in
// their own protocol.
//
// HTTP/2 connections are told with GOAWAY, which HTTP/2 clients answer by
// opening a new connection and retrying what the server had not started:
// net/http turns "Connection: close" into a GOAWAY after the next
// response, and once only HTTP/2 connections are left Drain calls
// http.Server.Shutdown, which then has no HTTP/1 connection to close and
// sends GOAWAY to the rest.
//
// # Moving idle connections instead of closing them
//
// With Options.Mover set (the upgrader's ConnMover, for instance), a drain
// hands each idle plaintext HTTP/1 connection to the next process, which
// serves it as if it had just accepted it; the client never notices the
// restart. A connection moves only when net/http's reader holds none of
// its bytes: the http.Server is between requests and asked the connection
// for a full read buffer (nothing buffered), or nothing was ever read from
// it. Bytes still in the kernel travel with the socket and are read by
// the next process. The move is decided on the connection's own reader
// goroutine, like the idle close: the drain wakes that Read with a past
// deadline, the Read that returns with no bytes calls Mover.Move, and only
// once the next process holds the socket does it close this process's
// descriptor (nothing is written, and a moved socket is never shut down)
// and stop counting the connection. That Read returns io.EOF, and the
// http.Server lets the connection go (ConnState reports StateClosed),
// when the drain is over: Drain does not wait for thousands of moved
// connections to unwind through net/http first. Connections that
// become idle during the drain move the same way, so responses during the
// drain carry no "Connection: close" on connections that can move, until
// IdleGrace into the drain: after that every response carries it, so a
// connection that never goes idle cannot hold the drain open. The drain
// ends as soon as the requests in flight are answered.
//
// What does not move, and drains as described above: TLS connections (a
// TLS session's keys live only in the process that made them; crypto/tls
// cannot export them), HTTP/2 over TLS, unencrypted HTTP/2 (recognized by
// its preface), hijacked connections, connections whose next request has
// partly arrived (net/http holds those bytes), listeners the Mover does
// not take, and everything once a Move has failed (the next process is an
// older build, refuses, dies or stops answering): from then on the drain
// is the one without a Mover, and a connection whose move failed is sent
// FIN when it is closed, since a failed receiver might still hold an unread
// reference to its socket.
//
// A connection that arrives moved (its Moved method reports true, as those
// that upgrader.Listen returns after a move do) is an idle keep-alive connection, not a
// new one: until its first byte it is bounded by IdleTimeout (else
// ReadTimeout), and ReadHeaderTimeout starts at that byte.
//
// # Limits
//
// A connection counts as idle only while the server has read nothing of a
// next request. So a TLS connection whose client completed the handshake
// but has not sent a request yet is not idle: set
// http.Server.ReadHeaderTimeout to bound it, or the drain deadline will.
// The same holds for a client that stalls in the middle of a request.
// HTTP/2 is recognized by TLS negotiation; unencrypted HTTP/2
// (http.Protocols.SetUnencryptedHTTP2) is drained like HTTP/1, where a
// client that sends frames on a connection with no stream open keeps it
// busy until the deadline.
//
// The connections handlers see (through Hijack, or ConnContext) are this
// package's wrappers, not *net.TCPConn: reach the accepted connection with
// their NetConn method. Serve TLS with Server.ServeTLS rather than a
// tls.NewListener, so that the drain sees the raw connections.
//
// # Draining gRPC and raw TCP servers
//
// The same upgrader (any code that passes listening sockets to a new
// process, then tells the old one to stop) can drain other protocols; the
// rule is the same: close this process's listener first, never the shared
// socket, then let each session end the way its protocol defines, bounded
// by a deadline.
//
// gRPC: close the listener passed to grpc.Server.Serve (Serve returns),
// then call GracefulStop. It sends GOAWAY on every connection and waits for
// the running RPCs; HTTP/2 clients treat GOAWAY as "open a new connection"
// and retry requests the server did not process (RFC 9113, section 6.8),
// so calling it once the listener is closed loses nothing. Bound it with a
// timer that calls Stop:
//
//	ln.Close()
//	done := make(chan struct{})
//	go func() { gs.GracefulStop(); close(done) }()
//	select {
//	case <-done:
//	case <-time.After(30 * time.Second):
//		gs.Stop() // cut what is left
//	}
//
// Raw TCP: close the listener so the accept loop ends, tell each session
// that the server is leaving (a protocol-level goodbye, or simply stop
// reading new commands and close after the current one), wait for the
// sessions with a sync.WaitGroup or a counter like Server.Track, and close
// what remains at a deadline. Closing a session mid-command is the TCP
// equivalent of Shutdown's idle close: do it only at a point where the
// protocol lets the client know to reconnect.
package httpdrain
