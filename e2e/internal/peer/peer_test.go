package peer

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestWritePIDFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pid")
	if err := WritePIDFile(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), strconv.Itoa(os.Getpid())+"\n"; got != want {
		t.Errorf("pid file: got %q; want %q", got, want)
	}
}
