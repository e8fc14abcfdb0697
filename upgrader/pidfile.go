package upgrader

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// writePIDFile replaces path with pid atomically: it writes a temporary
// file beside it and renames that into place, so a reader never sees a
// partial pid. Every step goes through the file this call created (never
// its name, which a racer in a shared directory could swap for a link),
// and the first failure stops it: a short write on a full disk must not
// replace a good pid file with an empty one.
func writePIDFile(path string, pid int) error {
	if path == "" {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("upgrader: write pid file %s: %w", path, err)
	}
	if err := fillPIDFile(tmp, pid); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("upgrader: write pid file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("upgrader: write pid file %s: %w", path, err)
	}
	return nil
}

// fillPIDFile writes pid to f, makes it readable by all, flushes it to
// disk and closes it.
func fillPIDFile(f *os.File, pid int) error {
	if _, err := f.WriteString(strconv.Itoa(pid) + "\n"); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// removePIDFile removes path if it still names pid: a later generation may
// have written its own.
func removePIDFile(path string, pid int) {
	if path == "" {
		return
	}
	b, err := os.ReadFile(path)
	if err == nil && string(bytes.TrimSpace(b)) == strconv.Itoa(pid) {
		os.Remove(path)
	}
}

// ReadPIDFile returns the pid stored in path.
func ReadPIDFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("upgrader: pid file %s holds %q, not a pid", path, bytes.TrimSpace(b))
	}
	return pid, nil
}
