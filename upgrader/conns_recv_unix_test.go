//go:build linux

package upgrader

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/handoff-go/handoff/control"
	"github.com/handoff-go/handoff/internal/testutil"
	"github.com/handoff-go/handoff/internal/wire"
)

// TestReceiveConnsChecksEverySocket plays the predecessor against
// receiveConns with rounds that span several batches. A round with a pipe
// among its sockets must be refused naming that socket's place, with every
// received descriptor closed; a good round must be served with each
// connection's own peer address.
func TestReceiveConnsChecksEverySocket(t *testing.T) {
	const n = 300 // two batches
	u := &Upgrader{log: slog.New(slog.DiscardHandler), prev: &prevGen{peer: control.Peer{PID: 1}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := u.withInbox("http", ln, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer inbox.Close()
	old, next := wirePair(t)
	ended := make(chan error, 1)
	go func() { ended <- u.receiveConns(next) }()
	t.Cleanup(func() {
		old.Close()
		select {
		case <-ended:
		case <-time.After(5 * time.Second):
			t.Error("receiveConns still running 5s after the predecessor hung up")
		}
	})

	clients, served := tcpPairs(t, n)
	entries, fds := make([]wire.Entry, n), make([]int, n)
	for i, c := range served {
		entries[i] = wire.Entry{Name: "http", Network: "tcp"}
		fds[i] = dupConnFD(t, c)
	}
	defer closeFDs(fds)

	// A round with a pipe at place 290, in the second batch.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	bad := append([]int(nil), fds...)
	bad[290] = int(r.Fd())
	before := openFDs(t)
	old.SetTimeout(5 * time.Second)
	if err := old.SendFiles(entries, bad); err != nil {
		t.Fatalf("send the round with a pipe: %v", err)
	}
	err = old.Expect(wire.TypeHeld, &wire.Conns{})
	if _, ok := errors.AsType[*wire.AbortError](err); !ok || !strings.Contains(err.Error(), "connection 290 ") ||
		!strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("round with a pipe at 290: got %v, want an Abort naming connection 290, not a socket", err)
	}
	if after := openFDs(t); after != before {
		t.Errorf("after the refused round %d descriptors are open, %d before: the received ones leaked", after, before)
	}

	// The same round with sockets only.
	if err := old.SendFiles(entries, fds); err != nil {
		t.Fatalf("send the good round: %v", err)
	}
	var held wire.Conns
	if err := old.Expect(wire.TypeHeld, &held); err != nil || held.Count != n {
		t.Fatalf("good round: Held %+v, %v; want %d held", held, err, n)
	}
	if err := old.Send(wire.TypeCommit, wire.Conns{Count: n}); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, c := range clients {
		want[c.LocalAddr().String()] = true
	}
	type accepted struct {
		c   net.Conn
		err error
	}
	got := make(chan accepted, n)
	go func() {
		for range n {
			c, err := inbox.Accept()
			got <- accepted{c, err}
			if err != nil {
				return
			}
		}
	}()
	deadline := time.After(10 * time.Second)
	for i := range n {
		var a accepted
		select {
		case a = <-got:
		case <-deadline:
			t.Fatalf("gave up after 10s: %d of %d committed connections accepted", i, n)
		}
		if a.err != nil {
			t.Fatalf("accept moved connection %d of %d: %v", i+1, n, a.err)
		}
		peer := a.c.RemoteAddr().String()
		a.c.Close()
		if !want[peer] {
			t.Fatalf("moved connection %d has peer %s: no client of the round, or its second connection", i+1, peer)
		}
		delete(want, peer)
	}
}

// wirePair is a connected pair of wire.Conns, closed at cleanup.
func wirePair(t *testing.T) (a, b *wire.Conn) {
	t.Helper()
	ra, rb := testutil.SocketPair(t)
	return wire.NewConn(ra), wire.NewConn(rb)
}

// tcpPairs makes n loopback connections and returns both ends of each,
// closed at cleanup.
func tcpPairs(t *testing.T, n int) (clients, served []net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		clients, served = append(clients, c), append(served, s)
	}
	return clients, served
}
