//go:build linux

package harness

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/handoff-go/handoff/internal/testutil"
)

// TestEstablishedAndServerInode: a keep-alive connection that a server
// in this process has answered is one established connection to its
// address, and its server end is a socket this process holds.
func TestEstablishedAndServerInode(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	if n := Established(os.Getpid(), addr); n != 0 {
		t.Fatalf("before any dial: Established %d; want 0", n)
	}
	c := testutil.MustDialRaw(t, addr)
	if _, _, err := c.Get("/"); err != nil { // answered, so accepted
		t.Fatal(err)
	}
	if n := Established(os.Getpid(), addr); n != 1 {
		t.Errorf("Established: got %d; want 1", n)
	}
	ino, ok := ServerInode(addr, c.Conn.LocalAddr().(*net.TCPAddr).Port)
	if !ok || !SocketInodes(os.Getpid())[ino] {
		t.Errorf("ServerInode: got %q, %v; want an inode this process holds", ino, ok)
	}
}
