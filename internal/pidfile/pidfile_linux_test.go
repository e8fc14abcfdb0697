package pidfile

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// On a full filesystem the old pid file must stay as it was, not be
// replaced by an empty one (issue 7, hole 4).
func TestKeptOnFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, 0) })
	path := filepath.Join(dir, "app.pid")
	if err := Start(path, 4242).Commit(); err != nil {
		t.Fatal(err)
	}
	filler, _ := os.Create(filepath.Join(dir, "filler"))
	for filler != nil {
		if _, err := filler.Write(make([]byte, 4096)); err != nil {
			break // full
		}
	}
	filler.Close()
	if err := Start(path, 5353).Commit(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("a pid file written on a full disk: got %v; want ENOSPC", err)
	}
	if got, err := Read(path); got != 4242 {
		t.Errorf("pid file after the failed write: got %d (%v); want the old 4242", got, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("files left: %d; want the pid file and the filler only", len(ents))
	}
}
