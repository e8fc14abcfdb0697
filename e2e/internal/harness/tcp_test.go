//go:build linux

package harness

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestEstablishedAndServerInode(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	if n := Established(os.Getpid(), addr); n != 0 {
		t.Fatalf("before any dial: Established %d; want 0", n)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := Established(os.Getpid(), addr); n != 1 {
		t.Errorf("Established: got %d; want 1", n)
	}
	ino, ok := ServerInode(addr, c.LocalAddr().(*net.TCPAddr).Port)
	if !ok || !SocketInodes(os.Getpid())[ino] {
		t.Errorf("ServerInode: got %q, %v; want an inode this process holds", ino, ok)
	}
}

func TestStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stale.sock")
	if err := StaleSocket(path); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("unix", path); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial the stale socket: got %v; want connection refused", err)
	}
}
