//go:build linux

package harness

import (
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestFDCountSeesAnOpenFile(t *testing.T) {
	before := FDCount(os.Getpid())
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := FDCount(os.Getpid()); got != before+1 {
		t.Errorf("FDCount after one open: got %d; want %d", got, before+1)
	}
	if list := FDList(os.Getpid()); !strings.Contains(list, "-> "+os.DevNull) {
		t.Errorf("FDList lacks %s:\n%s", os.DevNull, list)
	}
}

func TestSocketInodesHoldsAListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	before := len(SocketInodes(os.Getpid()))
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	if got := len(SocketInodes(os.Getpid())); got != before+1 {
		t.Errorf("socket inodes after one more listener: got %d; want %d", got, before+1)
	}
}

func TestFreeAddrIsFree(t *testing.T) {
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	ln.Close()
}

func TestPollGivesUp(t *testing.T) {
	if err := Poll(20*time.Millisecond, func() bool { return false }); !errors.Is(err, ErrNotYet) {
		t.Errorf("Poll of a condition never met: got %v; want ErrNotYet", err)
	}
	n := 0
	if err := Poll(time.Second, func() bool { n++; return n == 3 }); err != nil {
		t.Errorf("Poll of a condition met on the third call: got %v", err)
	}
	if Until(time.Now().Add(20*time.Millisecond), time.Millisecond, func() bool { return false }) {
		t.Error("Until of a condition never met: got true")
	}
}

func TestTail(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{in: "a\nb\nc\n", n: 2, want: "b\nc"},
		{in: "a\nb", n: 5, want: "a\nb"},
		{in: "", n: 1, want: ""},
	}
	for _, tt := range tests {
		if got := Tail(tt.in, tt.n); got != tt.want {
			t.Errorf("Tail(%q, %d): got %q; want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestCloseInheritedOnExec(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if _, err := unix.FcntlInt(w.Fd(), unix.F_SETFD, 0); err != nil { // as if inherited
		t.Fatal(err)
	}
	if err := CloseInheritedOnExec(); err != nil {
		t.Fatal(err)
	}
	flags, err := unix.FcntlInt(w.Fd(), unix.F_GETFD, 0)
	if err != nil {
		t.Fatal(err)
	}
	if flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("fd %d flags %#x; want FD_CLOEXEC", w.Fd(), flags)
	}
}
