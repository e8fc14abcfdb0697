// Package pidfile writes a server's pid file so that it always names the
// process that serves, and reads it back for the tools that act on it.
package pidfile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Draft is a pid file written ahead of time: a temporary file beside
// path holding the pid, made readable by all and flushed to disk. Only
// renaming it into place is left for the moment this process serves, so
// the fsync is off that path. Every step goes through the file created
// (never its name, which a racer in a shared directory could swap for a
// link), and the first failure stops it: a short write on a full disk
// must not replace a good pid file with an empty one.
type Draft struct {
	path string
	done chan struct{}
	tmp  string // set once done is closed
	err  error
}

// Start starts writing the draft on its own goroutine; nil (a draft
// that commits and discards nothing) for an empty path.
func Start(path string, pid int) *Draft {
	if path == "" {
		return nil
	}
	d := &Draft{path: path, done: make(chan struct{})}
	go func() {
		defer close(d.done)
		d.tmp, d.err = fill(path, pid)
	}()
	return d
}

func fill(path string, pid int) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return "", err
	}
	err = writeAll(f, pid)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

func writeAll(f *os.File, pid int) error {
	if _, err := f.WriteString(strconv.Itoa(pid) + "\n"); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	return f.Sync()
}

// Commit renames the draft into place once it is written.
func (d *Draft) Commit() error {
	if d == nil {
		return nil
	}
	<-d.done
	if d.err == nil && d.tmp != "" {
		if d.err = os.Rename(d.tmp, d.path); d.err != nil {
			os.Remove(d.tmp)
		}
		d.tmp = "" // in place, or gone: nothing left to discard
	}
	if d.err != nil {
		return fmt.Errorf("write pid file %s: %w", d.path, d.err)
	}
	return nil
}

// Discard removes a draft that will never be committed.
func (d *Draft) Discard() {
	if d == nil {
		return
	}
	<-d.done
	if d.err == nil && d.tmp != "" {
		os.Remove(d.tmp)
		d.tmp = ""
	}
}

// Remove removes path if it still names pid: a later generation may
// have written its own.
func Remove(path string, pid int) {
	if path == "" {
		return
	}
	b, err := os.ReadFile(path)
	if err == nil && string(bytes.TrimSpace(b)) == strconv.Itoa(pid) {
		os.Remove(path)
	}
}

// Read returns the pid stored in path.
func Read(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s holds %q, not a pid", path, bytes.TrimSpace(b))
	}
	return pid, nil
}
