//go:build linux

package harness

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestReplaceFileKeepsTheOpenOne(t *testing.T) {
	dir := t.TempDir()
	dst, src := filepath.Join(dir, "app"), filepath.Join(dir, "new")
	if err := os.WriteFile(dst, []byte("old"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	running, err := os.Open(dst) // as a running image holds its file
	if err != nil {
		t.Fatal(err)
	}
	defer running.Close()
	if err := ReplaceFile(dst, src); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "new" {
		t.Errorf("dst after ReplaceFile: got %q; want %q", b, "new")
	}
	if fi, err := os.Stat(dst); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("dst mode: got %v, %v; want 0755", fi.Mode(), err)
	}
	old := make([]byte, 3)
	if _, err := running.ReadAt(old, 0); err != nil || string(old) != "old" {
		t.Errorf("the file open before: got %q, %v; want %q", old, err, "old")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("dir holds %d entries; want 2 (no temp file left)", len(ents))
	}
}

func TestWatchExit(t *testing.T) {
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	w, err := WatchExit(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Wait(20 * time.Millisecond); !errors.Is(err, ErrNotYet) {
		t.Fatalf("Wait on a running process: got %v; want ErrNotYet", err)
	}
	killed := time.Now()
	cmd.Process.Kill() // not reaped: a zombie is an exit too
	at, err := w.Wait(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if at.Before(killed) {
		t.Errorf("exit seen at %v, before the kill at %v", at, killed)
	}
}
