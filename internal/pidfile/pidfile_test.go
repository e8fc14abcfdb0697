package pidfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCommitReadRemove(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.pid")
	if err := Start(path, 4242).Commit(); err != nil {
		t.Fatal(err)
	}
	if got, err := Read(path); got != 4242 || err != nil {
		t.Fatalf("Read: got %d, %v; want 4242", got, err)
	}
	Remove(path, 5353) // another generation's pid: the file stays
	if got, err := Read(path); got != 4242 {
		t.Fatalf("after removing for another pid: got %d, %v; want 4242 still there", got, err)
	}
	Remove(path, 4242)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("after Remove: got %v; want the file gone", err)
	}
}

func TestDiscardLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	Start(filepath.Join(dir, "app.pid"), 4242).Discard()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left after Discard: %d; want none", len(ents))
	}
}

func TestReadRefusesWhatIsNoPid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.pid")
	for _, body := range []string{"", "x\n", "-3\n", "0\n"} {
		os.WriteFile(path, []byte(body), 0o644)
		if pid, err := Read(path); err == nil {
			t.Errorf("Read of %q: got pid %d; want an error", body, pid)
		}
	}
}
