//go:build linux

package harness

import (
	"net"
	"os"
	"testing"

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
