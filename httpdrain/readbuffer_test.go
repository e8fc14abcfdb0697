package httpdrain

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/handoff-go/handoff/internal/testutil"
)

// readLog records the size of every Read an http.Server issues on a
// connection, and of the first one after the server marks it idle: the
// Read that waits for the next request.
type readLog struct {
	mu       sync.Mutex
	sizes    []int
	idle     bool // the server went idle and has not read since
	idleSize int  // the size of that first Read; 0 until it comes
}

// expect forgets the last idle Read, before the next request.
func (l *readLog) expect() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.idle, l.idleSize = false, 0
}

// wentIdle is the server's ConnState hook.
func (l *readLog) wentIdle(_ net.Conn, st http.ConnState) {
	if st == http.StateIdle {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.idle = true
	}
}

type loggedConn struct {
	net.Conn
	log *readLog
}

func (c loggedConn) Read(p []byte) (int, error) {
	c.log.mu.Lock()
	c.log.sizes = append(c.log.sizes, len(p))
	if c.log.idle {
		c.log.idle, c.log.idleSize = false, len(p)
	}
	c.log.mu.Unlock()
	return c.Conn.Read(p)
}

type loggedListener struct {
	net.Listener
	log *readLog
}

func (l loggedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return loggedConn{c, l.log}, nil
}

// idleRead waits until the server, done with a response, reads for the
// next request, and returns the size of that Read and of every Read so far.
func (l *readLog) idleRead(t *testing.T) (n int, all []int) {
	t.Helper()
	testutil.WaitFor(t, 5*time.Second, func() error {
		l.mu.Lock()
		defer l.mu.Unlock()
		n, all = l.idleSize, append([]int(nil), l.sizes...)
		if n == 0 {
			return errors.New("the http.Server has not read for the next request")
		}
		return nil
	})
	return n, all
}

// TestNetHTTPReadsThroughHTTPReadBuffer pins what moving idle connections
// rests on: net/http reads an idle keep-alive connection through an empty
// bufio.Reader of httpReadBuffer bytes, so a Read of that size, the
// largest it ever issues, means its reader holds none of the connection's
// bytes. That is bufio's default size, not a promise of net/http.
func TestNetHTTPReadsThroughHTTPReadBuffer(t *testing.T) {
	log := &readLog{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	srv.Listener = loggedListener{srv.Listener, log}
	srv.Config.ConnState = log.wentIdle
	srv.Start()
	t.Cleanup(srv.Close)
	c := testutil.MustDialRaw(t, srv.Listener.Addr().String())
	// A body smaller than the buffer is read through it too. (A larger one
	// may be read around it, with larger Reads: that connection then never
	// moves, which is safe.)
	const post = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
	for _, send := range []struct {
		method string
		send   func() error
	}{
		{"GET", func() error { return c.Send("/") }},
		{"POST", func() error { _, err := io.WriteString(c.Conn, post); return err }},
		{"GET", func() error { return c.Send("/again") }},
	} {
		log.expect()
		if err := send.send(); err != nil {
			t.Fatal(err)
		}
		if _, body, err := c.ReadResponse(); err != nil || body != "ok" {
			t.Fatalf("%s: got %q, %v; want ok", send.method, body, err)
		}
		checkIdleRead(t, log, send.method)
	}
}

// checkIdleRead checks the Read the server issues once idle after method's
// response, and what readShape makes of it.
func checkIdleRead(t *testing.T, log *readLog, method string) {
	t.Helper()
	n, all := log.idleRead(t)
	shape := readShape{headN: len(readShape{}.head)}
	for _, size := range all {
		shape.asked(size)
	}
	if n != httpReadBuffer || shape.most != httpReadBuffer || !shape.holdsNothing(n) {
		t.Fatalf("after a %s, net/http waits for the next request with a Read of %d bytes "+
			"(the largest it issued: %d; all: %v); httpdrain assumes %d (httpReadBuffer, bufio's "+
			"default size), so idle connections would quietly stop moving: "+
			"see how net/http now buffers connections and update httpReadBuffer and readShape",
			method, n, shape.most, all, httpReadBuffer)
	}
}
