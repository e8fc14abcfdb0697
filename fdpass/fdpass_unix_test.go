//go:build unix

package fdpass_test

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/handoff-go/handoff/fdpass"
	"github.com/handoff-go/handoff/internal/wire"
)

// pair returns two connected Unix stream sockets, closed at cleanup.
func pair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]*net.UnixConn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "pair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c.(*net.UnixConn)
		t.Cleanup(func() { c.Close() })
	}
	return conns[0], conns[1]
}

func TestSendReceiveFiles(t *testing.T) {
	dir := t.TempDir()
	var files []*os.File
	for _, name := range []string{"a", "b", "c"} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("contents of "+name), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files = append(files, f)
	}
	a, b := pair(t)
	sent := make(chan error, 1)
	go func() { sent <- fdpass.Send(a, files) }()
	got, err := fdpass.Receive(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if len(got) != len(files) {
		t.Fatalf("received %d files; want %d", len(got), len(files))
	}
	for i, f := range got {
		defer f.Close()
		if f.Name() != files[i].Name() {
			t.Errorf("file %d: name %q; want %q", i, f.Name(), files[i].Name())
		}
		b, err := io.ReadAll(f)
		if want := "contents of " + filepath.Base(files[i].Name()); err != nil || string(b) != want {
			t.Errorf("file %d: read %q, %v; want %q", i, b, err, want)
		}
	}
}

func TestReceiveFromPeerThatHangsUp(t *testing.T) {
	a, b := pair(t)
	a.Close()
	files, err := fdpass.Receive(b)
	if !errors.Is(err, wire.ErrClosed) || files != nil {
		t.Fatalf("got %v, %v; want no files and a closed-connection error", files, err)
	}
}
