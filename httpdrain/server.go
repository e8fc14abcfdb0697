package httpdrain

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults used when the matching Options field is zero or negative.
const (
	// DefaultIdleGrace is long enough for a client that is actively using a
	// keep-alive connection to send its next request (and so learn about the
	// drain from a "Connection: close" answer) instead of having the
	// connection closed under it, and short enough that truly idle
	// connections do not hold the old process for long.
	DefaultIdleGrace = time.Second
	// DefaultDeadline bounds a drain the way supervisors usually bound a
	// stop (systemd's TimeoutStopSec is 90s; 30s leaves room for exiting).
	DefaultDeadline = 30 * time.Second
)

// Options tunes a Server. The zero value is ready to use.
type Options struct {
	// IdleGrace is how long, during a drain, a connection that has no
	// request in progress is left open before it is closed. It is counted
	// from when the connection went idle or from the start of the drain,
	// whichever is later. Zero means DefaultIdleGrace.
	IdleGrace time.Duration
	// Deadline bounds the whole drain, counted from its start. What is
	// still open then is closed and Drain returns a *CutError.
	// Zero means DefaultDeadline.
	Deadline time.Duration
	// Logger receives one line per drain event; nil means silent.
	Logger *slog.Logger
	// Mover, if set, takes idle plaintext HTTP/1 connections to the next
	// process during a drain instead of closing them (see the package
	// documentation). Nil drains every connection here.
	Mover Mover
}

// Server serves an *http.Server on any number of listeners and drains it
// without losing requests. Create it with New.
type Server struct {
	srv       *http.Server
	grace     time.Duration
	deadline  time.Duration
	log       *slog.Logger
	userState func(net.Conn, http.ConnState)
	userCtx   func(context.Context, net.Conn) context.Context
	mover     Mover

	draining  atomic.Bool   // read on every request; set once listeners are closed
	drainCh   chan struct{} // closed when draining starts
	startOnce sync.Once
	changed   chan struct{} // cap 1: serving, conns or tracked went down
	wentIdle  chan struct{} // cap 1: a connection went idle while draining
	cutCh     chan error    // cap 1: a Drain caller's context ended
	done      chan struct{} // closed when the drain is over
	result    error         // written before done is closed
	goAway    bool          // HTTP/2 GOAWAY sent; owned by the drain goroutine

	moveFailed atomic.Bool  // a Move failed: nothing more moves
	moved      atomic.Int64 // connections the Mover took

	mu         sync.Mutex
	stopping   bool // no Serve may start
	drainStart time.Time
	serving    int
	listeners  map[*listener]struct{}
	conns      map[*conn]struct{}
	h2Conns    int // how many of conns speak HTTP/2
	tracked    map[*trackedConn]struct{}
}

// New prepares srv for draining and returns the Server that serves it.
//
// New installs wrappers around srv.Handler (nil means
// http.DefaultServeMux) and srv.ConnState; the originals are still called.
// After New, srv belongs to the Server: do not change it, and serve only
// through Server.Serve or Server.ServeTLS, since connections served by
// srv.Serve directly are invisible to the drain.
func New(srv *http.Server, opts Options) *Server {
	s := &Server{
		srv:       srv,
		grace:     orDefault(opts.IdleGrace, DefaultIdleGrace),
		deadline:  orDefault(opts.Deadline, DefaultDeadline),
		log:       opts.Logger,
		userState: srv.ConnState,
		userCtx:   srv.ConnContext,
		mover:     opts.Mover,
		drainCh:   make(chan struct{}),
		changed:   make(chan struct{}, 1),
		wentIdle:  make(chan struct{}, 1),
		cutCh:     make(chan error, 1),
		done:      make(chan struct{}),
		listeners: make(map[*listener]struct{}),
		conns:     make(map[*conn]struct{}),
		tracked:   make(map[*trackedConn]struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	h := srv.Handler
	if h == nil {
		h = http.DefaultServeMux
	}
	srv.Handler = s.wrapHandler(h)
	srv.ConnState = s.connState
	srv.ConnContext = s.connContext
	return s
}

// connKey is the context key under which a request finds its connection.
type connKey struct{}

// connContext lets the handler wrapper find the connection a request came
// on.
func (s *Server) connContext(ctx context.Context, nc net.Conn) context.Context {
	if s.userCtx != nil {
		ctx = s.userCtx(ctx, nc)
	}
	if c := asConn(nc); c != nil {
		ctx = context.WithValue(ctx, connKey{}, c)
	}
	return ctx
}

// idleDeadline is when a keep-alive connection that goes idle now times
// out, as net/http computes it: IdleTimeout, else ReadTimeout, else never.
func (s *Server) idleDeadline() time.Time {
	d := s.srv.IdleTimeout
	if d <= 0 {
		d = s.srv.ReadTimeout
	}
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

// sinceDrain is how long the drain has run; only once draining is set.
func (s *Server) sinceDrain() time.Duration { return time.Since(s.drainStart) }

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Serve accepts connections on ln and serves them until Drain closes ln;
// it may run for several listeners at once. It returns nil when a drain
// ended it, ErrDraining (after closing ln) if the drain had already
// started, and otherwise the wrapped error that stopped it. Serve always
// closes ln before returning; ln is this process's descriptor only, and
// closing it never shuts the socket down for other processes sharing it.
func (s *Server) Serve(ln net.Listener) error {
	return s.serve(ln, "serve", true, s.srv.Serve)
}

// ServeTLS is Serve with TLS, as http.Server.ServeTLS: certFile and keyFile
// may be empty when srv.TLSConfig holds the certificates. Pass the plain
// listener, not a tls.NewListener, so the drain sees the raw connections.
func (s *Server) ServeTLS(ln net.Listener, certFile, keyFile string) error {
	return s.serve(ln, "serve tls", false, func(l net.Listener) error {
		return s.srv.ServeTLS(l, certFile, keyFile)
	})
}

func (s *Server) serve(ln net.Listener, op string, plain bool, run func(net.Listener) error) error {
	l := &listener{Listener: ln, s: s, plain: plain}
	if !s.addListener(l) {
		l.Close()
		return fmt.Errorf("httpdrain: %s: %w", op, ErrDraining)
	}
	err := run(l)
	l.Close() // run may fail before it takes ownership of l
	if s.removeListener(l) {
		return nil
	}
	return fmt.Errorf("httpdrain: %s: %w", op, err)
}

func (s *Server) addListener(l *listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false
	}
	s.listeners[l] = struct{}{}
	s.serving++
	return true
}

// removeListener reports whether a drain is what stopped the serving.
func (s *Server) removeListener(l *listener) bool {
	s.mu.Lock()
	delete(s.listeners, l)
	s.serving--
	stopping := s.stopping
	s.mu.Unlock()
	signal(s.changed)
	return stopping
}

// Draining returns a channel that is closed when a drain starts, after the
// listeners are closed. Handlers of long-lived connections (websockets,
// streams) select on it to say goodbye in their own protocol.
func (s *Server) Draining() <-chan struct{} { return s.drainCh }

// Track makes Drain wait for c until done is called, typically for a
// connection taken with Hijack whose handler outlives the request
// (websockets, tunnels). A hijacked connection is counted until it is
// closed even without Track; Track moves it to its own count so that the
// handler decides when it is finished: call done exactly once (later calls
// do nothing) when the handler no longer uses c. If the drain deadline
// passes first, Drain closes c. Closing c otherwise stays the caller's job.
func (s *Server) Track(c net.Conn) (done func()) {
	t := &trackedConn{Conn: c}
	oc := asConn(c)
	hijacked := oc != nil && oc.hijacked() // final once true, so safe to read early
	s.mu.Lock()
	if hijacked {
		s.dropLocked(oc)
	}
	s.tracked[t] = struct{}{}
	s.mu.Unlock()
	return func() {
		t.once.Do(func() {
			s.mu.Lock()
			delete(s.tracked, t)
			s.mu.Unlock()
			signal(s.changed)
		})
	}
}

type trackedConn struct {
	net.Conn
	once sync.Once
}

// signal wakes the drain loop without blocking; a pending wake-up already
// covers this one because the loop re-reads the state after waking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
