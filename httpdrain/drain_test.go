package httpdrain_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/handoff-go/handoff/httpdrain"
	"github.com/handoff-go/handoff/internal/testutil"
)

// blockingHandler signals entered, waits for release (called at cleanup at
// the latest), then answers with respond.
func blockingHandler(t *testing.T, respond func(http.ResponseWriter)) (h http.Handler, entered chan struct{}, release func()) {
	entered = make(chan struct{}, 1)
	released := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(released) }) }
	t.Cleanup(release)
	h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-released
		respond(w)
	})
	return h, entered, release
}

func TestInFlightRequestCompletesWithConnectionClose(t *testing.T) {
	tests := []struct {
		name     string
		respond  func(http.ResponseWriter)
		wantBody string
	}{
		{name: "write", respond: func(w http.ResponseWriter) { io.WriteString(w, "done") }, wantBody: "done"},
		{name: "empty", respond: func(http.ResponseWriter) {}, wantBody: ""},
		{name: "flusher", wantBody: "flushed", respond: func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			io.WriteString(w, "flushed")
		}},
		{name: "response controller", wantBody: "rc", respond: func(w http.ResponseWriter) {
			rc := http.NewResponseController(w)
			if err := rc.SetWriteDeadline(time.Now().Add(waitLimit)); err != nil {
				io.WriteString(w, err.Error())
				return
			}
			rc.Flush()
			io.WriteString(w, "rc")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, entered, release := blockingHandler(t, tt.respond)
			grace := 50 * time.Millisecond
			sv := newServer(t, h, httpdrain.Options{IdleGrace: grace})
			c := testutil.MustDialRaw(t, sv.addr)
			if err := c.Send("/"); err != nil {
				t.Fatalf("send: %v", err)
			}
			<-entered
			drained := drainAsync(sv.s)
			waitClosed(t, "Draining()", sv.s.Draining())
			select {
			case err := <-drained:
				t.Fatalf("Drain returned %v while a request was in flight; want it to wait", err)
			case <-time.After(3 * grace): // long enough for a wrong idle close
			}
			release()
			resp, body, err := c.ReadResponse()
			if err != nil {
				t.Fatalf("in-flight request: %v; want a response", err)
			}
			if resp.StatusCode != http.StatusOK || body != tt.wantBody || !resp.Close {
				t.Errorf("got %d %q Close=%v; want 200 %q Close=true", resp.StatusCode, body, resp.Close, tt.wantBody)
			}
			if err := recvErr(t, "Drain", drained); err != nil {
				t.Errorf("Drain = %v; want nil", err)
			}
			if err := sv.wait(t); err != nil {
				t.Errorf("Serve = %v; want nil", err)
			}
		})
	}
}

func TestIdleConnClosedAfterGrace(t *testing.T) {
	const grace = time.Second
	sv := newServer(t, okHandler("ok"), httpdrain.Options{IdleGrace: grace})
	silent, active := testutil.MustDialRaw(t, sv.addr), testutil.MustDialRaw(t, sv.addr)
	for _, c := range []*testutil.RawConn{silent, active} {
		if resp, _, err := c.Get("/"); err != nil || resp.Close {
			t.Fatalf("request before drain: err=%v; want a kept-alive response", err)
		}
	}
	start := time.Now()
	drained := drainAsync(sv.s)
	waitClosed(t, "Draining()", sv.s.Draining())

	resp, body, err := active.Get("/")
	if err != nil {
		t.Fatalf("request on idle conn during the grace: %v; want an answer", err)
	}
	if body != "ok" || !resp.Close {
		t.Errorf("got %q Close=%v; want \"ok\" Close=true", body, resp.Close)
	}
	active.WaitEOF(t)

	silent.WaitEOF(t)
	if took := time.Since(start); took < grace {
		t.Errorf("idle conn closed %v after drain start; want at least %v", took, grace)
	}
	if err := recvErr(t, "Drain", drained); err != nil {
		t.Errorf("Drain = %v; want nil", err)
	}
}

func TestDrainCutsAtDeadline(t *testing.T) {
	tests := []struct {
		name      string
		deadline  time.Duration
		ctxAfter  time.Duration // 0: no context deadline
		wantCause error
		wantMsg   string
	}{
		{name: "deadline", deadline: 300 * time.Millisecond, wantCause: httpdrain.ErrDeadline,
			wantMsg: "httpdrain: drain: 1 connection cut at deadline"},
		{name: "context", deadline: time.Minute, ctxAfter: 300 * time.Millisecond,
			wantCause: context.DeadlineExceeded, wantMsg: "httpdrain: drain: 1 connection cut: context deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, entered, _ := blockingHandler(t, func(http.ResponseWriter) {})
			var logs syncBuffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			sv := newServer(t, h, httpdrain.Options{Deadline: tt.deadline, Logger: logger})
			c := testutil.MustDialRaw(t, sv.addr)
			if err := c.Send("/"); err != nil {
				t.Fatalf("send: %v", err)
			}
			<-entered
			ctx := context.Background()
			if tt.ctxAfter > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxAfter)
				defer cancel()
			}
			start := time.Now()
			err := sv.s.Drain(ctx)
			took := time.Since(start)
			want := tt.deadline
			if tt.ctxAfter > 0 {
				want = tt.ctxAfter
			}
			if took < want || took > want+waitLimit/2 {
				t.Errorf("Drain took %v; want about %v", took, want)
			}
			var cut *httpdrain.CutError
			if !errors.As(err, &cut) || cut.Conns != 1 || !errors.Is(err, tt.wantCause) {
				t.Fatalf("Drain = %v; want a CutError for 1 conn caused by %v", err, tt.wantCause)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("message %q; want %q", err.Error(), tt.wantMsg)
			}
			if warns := logs.linesWith("level=WARN"); len(warns) != 1 || !strings.Contains(warns[0], "conns=1") {
				t.Errorf("warning log lines %q; want one saying conns=1", warns)
			}
			if _, _, err := c.ReadResponse(); err == nil {
				t.Errorf("read on cut conn: got a response; want an error")
			}
		})
	}
}

func TestHijackedConnKeepsDrainWaiting(t *testing.T) {
	tests := []struct {
		name  string
		track bool // with Track, Drain waits for done, not for Close
	}{
		{name: "tracked", track: true},
		{name: "hijacked only", track: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const grace = 50 * time.Millisecond
			var s *httpdrain.Server
			hijacked, closed, finish := make(chan struct{}), make(chan struct{}), make(chan struct{})
			var once sync.Once
			t.Cleanup(func() { once.Do(func() { close(finish) }) })
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				conn, brw, err := w.(http.Hijacker).Hijack()
				if err != nil {
					return
				}
				done := func() {}
				if tt.track {
					done = s.Track(conn)
				}
				close(hijacked)
				<-s.Draining()
				io.WriteString(conn, "bye\n") // the protocol's own goodbye
				io.Copy(io.Discard, brw)      // until the client hangs up
				conn.Close()
				close(closed)
				<-finish
				done()
			})
			s = httpdrain.New(&http.Server{Handler: h}, httpdrain.Options{IdleGrace: grace})
			sv := startServe(t, s, listenTCP(t))
			c := testutil.MustDialRaw(t, sv.addr)
			if err := c.Send("/ws"); err != nil {
				t.Fatalf("send: %v", err)
			}
			waitClosed(t, "hijacked", hijacked)
			drained := drainAsync(s)
			if line, err := c.R.ReadString('\n'); err != nil || line != "bye\n" {
				t.Fatalf("hijacked conn read = %q, %v; want \"bye\\n\"", line, err)
			}
			assertWaiting(t, drained, 3*grace)
			c.Conn.Close()
			waitClosed(t, "handler's close", closed)
			if tt.track {
				assertWaiting(t, drained, 3*grace)
				once.Do(func() { close(finish) })
			}
			if err := recvErr(t, "Drain", drained); err != nil {
				t.Errorf("Drain = %v; want nil", err)
			}
		})
	}
}

// assertWaiting fails if Drain returns within d, which is long enough for
// a wrong idle close or a miscount to show.
func assertWaiting(t *testing.T, drained <-chan error, d time.Duration) {
	t.Helper()
	select {
	case err := <-drained:
		t.Fatalf("Drain returned %v while a hijacked conn was in use; want it to wait", err)
	case <-time.After(d):
	}
}

func TestTrackedConnCutAtDeadline(t *testing.T) {
	var s *httpdrain.Server
	tracked := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer s.Track(conn)() // never done before the deadline
		defer conn.Close()
		close(tracked)
		io.Copy(io.Discard, brw) // until the drain cuts the conn
	})
	s = httpdrain.New(&http.Server{Handler: h}, httpdrain.Options{Deadline: 200 * time.Millisecond})
	sv := startServe(t, s, listenTCP(t))
	c := testutil.MustDialRaw(t, sv.addr)
	if err := c.Send("/ws"); err != nil {
		t.Fatalf("send: %v", err)
	}
	waitClosed(t, "tracked", tracked)
	err := s.Drain(context.Background())
	var cut *httpdrain.CutError
	if !errors.As(err, &cut) || cut.Conns != 1 {
		t.Fatalf("Drain = %v; want a CutError for 1 conn", err)
	}
	c.WaitEOF(t)
}

func TestServeAfterDrain(t *testing.T) {
	s := httpdrain.New(&http.Server{}, httpdrain.Options{})
	if err := s.Drain(context.Background()); err != nil {
		t.Fatalf("Drain with nothing served = %v; want nil", err)
	}
	ln := listenTCP(t)
	if err := s.Serve(ln); !errors.Is(err, httpdrain.ErrDraining) {
		t.Errorf("Serve after Drain = %v; want ErrDraining", err)
	}
	if _, err := ln.Accept(); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Accept on the listener Serve refused = %v; want it closed", err)
	}
	if err := s.Drain(context.Background()); err != nil {
		t.Errorf("second Drain = %v; want nil", err)
	}
}

func TestConnStateHookChained(t *testing.T) {
	var mu sync.Mutex
	seen := map[http.ConnState]int{}
	srv := &http.Server{Handler: okHandler("ok"), ConnState: func(_ net.Conn, st http.ConnState) {
		mu.Lock()
		seen[st]++
		mu.Unlock()
	}}
	s := httpdrain.New(srv, httpdrain.Options{})
	sv := startServe(t, s, listenTCP(t))
	c := testutil.MustDialRaw(t, sv.addr)
	if _, _, err := c.Get("/"); err != nil {
		t.Fatalf("get: %v", err)
	}
	c.Conn.Close()
	if err := recvErr(t, "Drain", drainAsync(s)); err != nil {
		t.Fatalf("Drain = %v; want nil", err)
	}
	count := func(st http.ConnState) int {
		mu.Lock()
		defer mu.Unlock()
		return seen[st]
	}
	// The server reports StateClosed just after closing, so Drain may
	// return first.
	for end := time.Now().Add(waitLimit); count(http.StateClosed) == 0 && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
	for _, st := range []http.ConnState{http.StateNew, http.StateActive, http.StateIdle, http.StateClosed} {
		if got := count(st); got != 1 {
			t.Errorf("user hook saw %v %d times; want 1", st, got)
		}
	}
}

// syncBuffer collects log output from any goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) linesWith(sub string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var lines []string
	for _, l := range strings.Split(b.buf.String(), "\n") {
		if strings.Contains(l, sub) {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestServeTLSDrainsIdleConn(t *testing.T) {
	const grace = 200 * time.Millisecond
	tests := []struct {
		name     string
		http2    bool
		want     int           // ProtoMajor
		minDrain time.Duration // HTTP/2 needs no grace: GOAWAY is safe at once
	}{
		{name: "HTTP/1.1", want: 1, minDrain: grace},
		{name: "HTTP/2", http2: true, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, pool := testutil.SelfSigned(t)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.TLS == nil {
					http.Error(w, "no TLS state", http.StatusInternalServerError)
				}
			})
			srv := &http.Server{Handler: h, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
			s := httpdrain.New(srv, httpdrain.Options{IdleGrace: grace})
			sv := startServeFunc(t, s, listenTCP(t), func(ln net.Listener) error {
				return s.ServeTLS(ln, "", "")
			})
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: tt.http2}
			t.Cleanup(tr.CloseIdleConnections)
			resp, err := (&http.Client{Transport: tr}).Get("https://" + sv.addr)
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.ProtoMajor != tt.want {
				t.Fatalf("got %d over HTTP/%d; want 200 over HTTP/%d", resp.StatusCode, resp.ProtoMajor, tt.want)
			}
			start := time.Now()
			if err := recvErr(t, "Drain", drainAsync(s)); err != nil {
				t.Errorf("Drain = %v; want nil", err)
			}
			if took := time.Since(start); took < tt.minDrain || took > waitLimit/2 {
				t.Errorf("Drain with an idle TLS conn took %v; want at least %v, well under %v", took, tt.minDrain, waitLimit/2)
			}
			if err := sv.wait(t); err != nil {
				t.Errorf("ServeTLS = %v; want nil", err)
			}
		})
	}
}
