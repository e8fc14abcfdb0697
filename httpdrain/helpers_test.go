package httpdrain_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/handoff-go/handoff/httpdrain"
)

// waitLimit bounds every wait in these tests; reaching it is a failure.
const waitLimit = 10 * time.Second

// serving is one running Serve call.
type serving struct {
	s    *httpdrain.Server
	addr string
	done chan struct{}
	err  error
}

// startServe runs s.Serve(ln) and, at cleanup, drains s and waits for Serve.
func startServe(t *testing.T, s *httpdrain.Server, ln net.Listener) *serving {
	t.Helper()
	return startServeFunc(t, s, ln, s.Serve)
}

// startServeFunc is startServe with serve (Serve or a ServeTLS call).
func startServeFunc(t *testing.T, s *httpdrain.Server, ln net.Listener, serve func(net.Listener) error) *serving {
	t.Helper()
	sv := &serving{s: s, addr: ln.Addr().String(), done: make(chan struct{})}
	go func() {
		sv.err = serve(ln)
		close(sv.done)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		s.Drain(ctx)
		<-sv.done
	})
	return sv
}

// wait returns what Serve returned. Call it on the test goroutine.
func (sv *serving) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-sv.done:
		return sv.err
	case <-time.After(waitLimit):
		t.Fatalf("Serve still running after %v; want it to have returned", waitLimit)
		return nil
	}
}

// newServer serves h on a fresh loopback listener.
func newServer(t *testing.T, h http.Handler, opts httpdrain.Options) *serving {
	t.Helper()
	s := httpdrain.New(&http.Server{Handler: h}, opts)
	return startServe(t, s, listenTCP(t))
}

func listenTCP(t *testing.T) *net.TCPListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.(*net.TCPListener)
}

// drainAsync starts Drain and returns the channel its result arrives on.
func drainAsync(s *httpdrain.Server) <-chan error {
	errc := make(chan error, 1)
	go func() { errc <- s.Drain(context.Background()) }()
	return errc
}

// recvErr waits for the result of an asynchronous call.
func recvErr(t *testing.T, what string, errc <-chan error) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(waitLimit):
		t.Fatalf("%s still running after %v; want it to have returned", what, waitLimit)
		return nil
	}
}

// waitClosed waits for ch to be closed.
func waitClosed(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitLimit):
		t.Fatalf("%s not closed after %v", what, waitLimit)
	}
}

func okHandler(body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	})
}
