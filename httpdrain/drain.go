package httpdrain

import (
	"context"
	"net"
	"time"
)

// Drain stops accepting on every listener this Server serves, lets each
// connection finish what it has started, and returns nil once none is left.
//
// It never calls http.Server.Shutdown while an HTTP/1 connection is open:
// every later response carries "Connection: close", and an HTTP/1
// connection with no request in progress is closed only after it has been
// idle for Options.IdleGrace. HTTP/2 connections get GOAWAY (see the
// package documentation). When Options.Deadline or ctx ends first, the rest is
// closed and Drain returns a *CutError saying how many connections were
// cut. Hijacked connections count until they are closed, or until their
// done is called if they were given to Track.
//
// Drain may be called more than once and from several goroutines: the drain
// happens once, every call returns its result, and a call whose ctx ends
// first cuts the drain short for all.
func (s *Server) Drain(ctx context.Context) error {
	s.startOnce.Do(s.start)
	select {
	case <-s.done:
	case <-ctx.Done():
		select {
		case s.cutCh <- context.Cause(ctx):
		default: // a cut is already on its way
		}
		<-s.done
	}
	return s.result
}

func (s *Server) start() {
	s.mu.Lock()
	s.stopping = true
	s.drainStart = time.Now()
	lns := make([]*listener, 0, len(s.listeners))
	for l := range s.listeners {
		lns = append(lns, l)
	}
	s.mu.Unlock()
	moving := s.startMoving(lns)
	// Our descriptors only: a successor sharing the socket keeps accepting,
	// and the kernel keeps queued connections for it.
	for _, l := range lns {
		l.Close()
	}
	s.draining.Store(true)
	close(s.drainCh)
	s.log.Info("httpdrain: drain started", "listeners", len(lns), "moving", moving, "conns", s.live())
	go s.run()
}

func (s *Server) run() {
	defer close(s.done)
	hard := time.NewTimer(time.Until(s.drainStart.Add(s.deadline)))
	defer hard.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // ends a Shutdown started by maybeGoAway
	cause := s.waitServing(hard.C)
	if cause == nil {
		cause = s.waitConns(ctx, hard.C)
	}
	if cause != nil {
		s.cut(cause)
		return
	}
	s.srv.Close() // nothing is live: this only releases the server's state
	s.log.Info("httpdrain: drained", "took", time.Since(s.drainStart), "moved", s.moved.Load())
}

// waitServing waits until every Serve call has returned: only then has each
// connection Accept returned been handed to the http.Server, and only then
// is an idle connection really idle rather than not yet being read.
func (s *Server) waitServing(hard <-chan time.Time) error {
	for {
		s.mu.Lock()
		serving := s.serving
		s.mu.Unlock()
		if serving == 0 {
			return nil
		}
		select {
		case <-s.changed:
		case <-hard:
			return ErrDeadline
		case cause := <-s.cutCh:
			return cause
		}
	}
}

// waitConns waits until no connection is left, kicking idle ones as their
// grace ends. The sweep timer is armed only while some connection may
// become due; wentIdle re-arms it.
func (s *Server) waitConns(ctx context.Context, hard <-chan time.Time) error {
	sweep := time.NewTimer(0)
	defer sweep.Stop()
	armed := true
	for s.live() > 0 {
		s.maybeGoAway(ctx)
		select {
		case <-sweep.C:
			next := s.sweep(time.Now())
			if armed = !next.IsZero(); armed {
				sweep.Reset(time.Until(next))
			}
		case <-s.wentIdle:
			if !armed {
				armed = true
				sweep.Reset(s.firstDue())
			}
		case <-s.changed:
		case <-hard:
			return ErrDeadline
		case cause := <-s.cutCh:
			return cause
		}
	}
	return nil
}

// maybeGoAway starts http.Server.Shutdown once only HTTP/2 connections
// are left (tracked and hijacked ones are not the server's): Shutdown then
// closes no HTTP/1 connection, and tells every HTTP/2 one GOAWAY, which
// HTTP/2 clients answer by opening a new connection, retrying what the
// server had not started. The server closes each after its last stream.
func (s *Server) maybeGoAway(ctx context.Context) {
	if s.goAway {
		return
	}
	s.mu.Lock()
	n := s.h2Conns
	onlyH2 := n > 0 && n == len(s.conns)
	s.mu.Unlock()
	if !onlyH2 {
		return
	}
	s.goAway = true
	s.log.Info("httpdrain: sending GOAWAY to HTTP/2 connections", "conns", n)
	go s.srv.Shutdown(ctx)
}

// sweep kicks connections whose grace is over and returns when the next
// one will be due, or the zero time if none is waiting for its grace.
func (s *Server) sweep(now time.Time) time.Time {
	s.mu.Lock()
	since := s.drainStart
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	var next time.Time
	for _, c := range conns {
		due := c.kickIfIdle(now, since, s.grace)
		if !due.IsZero() && (next.IsZero() || due.Before(next)) {
			next = due
		}
	}
	return next
}

// firstDue is how long after a connection went idle the sweep should look
// at it: at once while connections move, else after IdleGrace.
func (s *Server) firstDue() time.Duration {
	if s.mover != nil && !s.moveFailed.Load() {
		return 0
	}
	return s.grace
}

// live counts connections the drain waits for.
func (s *Server) live() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns) + len(s.tracked)
}

// cut closes whatever is left and records how much that was.
func (s *Server) cut(cause error) {
	s.mu.Lock()
	left := make([]net.Conn, 0, len(s.conns)+len(s.tracked))
	for c := range s.conns {
		left = append(left, c)
	}
	for t := range s.tracked {
		left = append(left, t.Conn)
	}
	s.mu.Unlock()
	s.srv.Close() // also stops a Serve that has not returned
	for _, c := range left {
		c.Close()
	}
	if len(left) == 0 {
		return
	}
	s.result = &CutError{Conns: len(left), Cause: cause}
	s.log.Warn("httpdrain: drain cut connections", "conns", len(left), "cause", cause)
}
