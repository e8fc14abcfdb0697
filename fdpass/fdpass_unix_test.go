//go:build unix

package fdpass_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/handoff-go/handoff/fdpass"
	"github.com/handoff-go/handoff/internal/testutil"
	"github.com/handoff-go/handoff/internal/wire"
)

func TestSendReceiveFiles(t *testing.T) {
	testutil.CheckLeaks(t)
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
	a, b := testutil.SocketPair(t)
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
	testutil.CheckLeaks(t)
	a, b := testutil.SocketPair(t)
	a.Close()
	files, err := fdpass.Receive(b)
	if !errors.Is(err, wire.ErrClosed) || files != nil {
		t.Fatalf("got %v, %v; want no files and a closed-connection error", files, err)
	}
}
