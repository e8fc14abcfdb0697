package conndrain_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/handoff-go/handoff/conndrain"
	"github.com/handoff-go/handoff/internal/testutil"
)

// listen wraps a fresh 127.0.0.1:0 listener, drained (briefly) at cleanup.
func listen(t *testing.T, opts conndrain.Options) *conndrain.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := conndrain.New(ln, opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		l.Drain(ctx)
	})
	return l
}

// pair dials l and returns the client's end and the server's accepted end.
func pair(t *testing.T, l *conndrain.Listener) (client, server net.Conn) {
	t.Helper()
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return client, server
}

func drainAsync(l *conndrain.Listener, d time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		done <- l.Drain(ctx)
	}()
	return done
}

// A connection the application closes during the drain ends it, nil.
func TestDrainWaitsForTheApplication(t *testing.T) {
	testutil.CheckLeaks(t)
	l := listen(t, conndrain.Options{})
	_, server := pair(t, l)
	done := drainAsync(l, 10*time.Second)
	select {
	case err := <-done:
		t.Fatalf("Drain returned %v with a connection open; want it to wait", err)
	case <-time.After(50 * time.Millisecond):
	}
	server.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Drain: got %v; want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Drain still waiting 10s after the last connection closed")
	}
	if n := l.Active(); n != 0 {
		t.Errorf("Active: got %d; want 0", n)
	}
}

// At the deadline Drain closes what is left and says how many.
func TestDrainCutsAtTheDeadline(t *testing.T) {
	testutil.CheckLeaks(t)
	l := listen(t, conndrain.Options{})
	client, _ := pair(t, l)
	pair(t, l)
	err := <-drainAsync(l, 50*time.Millisecond)
	var cut *conndrain.CutError
	if !errors.As(err, &cut) || cut.Conns != 2 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Drain: got %v; want a CutError for 2 connections at the deadline", err)
	}
	if want := "conndrain: drain: 2 connections cut: context deadline exceeded"; err.Error() != want {
		t.Errorf("message: got %q; want %q", err.Error(), want)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("client read after the cut: got %v; want EOF", err)
	}
	if n := l.Active(); n != 0 {
		t.Errorf("Active: got %d; want 0", n)
	}
}

// Accept after Drain says the listener is closed; the socket is not shut
// down for another process, only this process's descriptor is closed.
func TestAcceptAfterDrain(t *testing.T) {
	testutil.CheckLeaks(t)
	l := listen(t, conndrain.Options{})
	if err := <-drainAsync(l, time.Second); err != nil {
		t.Fatalf("Drain with nothing open: got %v; want nil", err)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Drain: got %v; want net.ErrClosed", err)
	}
}

// Connections accepted by several goroutines while the drain begins are
// all tracked: Drain returns only once the application closed each.
func TestConcurrentAcceptsDuringDrain(t *testing.T) {
	testutil.CheckLeaks(t)
	const clients = 50
	l := listen(t, conndrain.Options{})
	release := make(chan struct{})
	var served sync.WaitGroup
	var acceptors sync.WaitGroup
	for range 4 {
		acceptors.Add(1)
		go func() {
			defer acceptors.Done()
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				served.Add(1)
				go func() {
					defer served.Done()
					<-release
					c.Close()
				}()
			}
		}()
	}
	var dialers sync.WaitGroup
	conns := make(chan net.Conn, clients)
	for range clients {
		dialers.Add(1)
		go func() {
			defer dialers.Done()
			if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
				conns <- c
			}
		}()
	}
	done := drainAsync(l, 20*time.Second)
	dialers.Wait()
	close(conns)
	acceptors.Wait() // every Accept has returned: what was accepted is tracked
	open := l.Active()
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Drain: got %v; want nil (%d were open)", err, open)
	}
	served.Wait()
	for c := range conns {
		c.Close()
	}
}

// OnDrain hears of each open connection once, and of one accepted as the
// drain begins.
func TestOnDrain(t *testing.T) {
	testutil.CheckLeaks(t)
	var mu sync.Mutex
	told := map[net.Conn]int{}
	fake := newFakeListener()
	l := conndrain.New(fake, conndrain.Options{OnDrain: func(c net.Conn) {
		mu.Lock()
		told[c]++
		mu.Unlock()
	}})
	a, b := net.Pipe()
	defer b.Close()
	fake.conns <- a
	first, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept() // in the wrapped Accept as the drain begins
		accepted <- c
	}()
	testutil.WaitFor(t, 5*time.Second, fake.waiting)
	done := drainAsync(l, 10*time.Second)
	<-fake.closed
	c, d := net.Pipe()
	defer d.Close()
	fake.conns <- c
	late := <-accepted
	if late == nil {
		t.Fatal("the Accept running as the drain began returned no connection; want the one it was given")
	}
	first.Close()
	select {
	case err := <-done:
		t.Fatalf("Drain returned %v with the late connection open; want it to wait", err)
	case <-time.After(50 * time.Millisecond):
	}
	late.Close()
	if err := <-done; err != nil {
		t.Fatalf("Drain: got %v; want nil", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if told[first] != 1 || told[late] != 1 || len(told) != 2 {
		t.Errorf("OnDrain calls: got %v; want each of the 2 connections once", told)
	}
}

// fakeListener hands out the conns sent to it; Close does not end an
// Accept already waiting, so a test can decide what that Accept returns.
type fakeListener struct {
	conns     chan net.Conn
	closed    chan struct{}
	mu        sync.Mutex
	accepting int
}

func newFakeListener() *fakeListener {
	return &fakeListener{conns: make(chan net.Conn, 1), closed: make(chan struct{})}
}

func (f *fakeListener) Accept() (net.Conn, error) {
	f.mu.Lock()
	f.accepting++
	f.mu.Unlock()
	return <-f.conns, nil
}

func (f *fakeListener) waiting() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.accepting < 2 {
		return errors.New("the second Accept has not started")
	}
	return nil
}

func (f *fakeListener) Close() error   { close(f.closed); return nil }
func (f *fakeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
