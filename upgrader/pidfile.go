package upgrader

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// writePIDFile replaces path with pid atomically (write a temporary file
// beside it, then rename), so a reader never sees a partial pid.
func writePIDFile(path string, pid int) error {
	if path == "" {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("upgrader: write pid file: %w", err)
	}
	_, werr := fmt.Fprintf(tmp, "%d\n", pid)
	cerr := tmp.Close()
	if err := firstErr(werr, cerr, os.Chmod(tmp.Name(), 0o644), os.Rename(tmp.Name(), path)); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("upgrader: write pid file %s: %w", path, err)
	}
	return nil
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

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
