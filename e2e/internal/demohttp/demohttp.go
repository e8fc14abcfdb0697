// Package demohttp is the demo contract's HTTP side for the servers the
// bench compares with examples/demo (e2e/cmd/tfdemo, e2e/cmd/plaindemo):
// the same handler as the demo's, so that every server answers the same
// requests with the same work, and the little each needs around it.
package demohttp

import (
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"
)

// Handler serves GET / with X-Pid (and the request's X-Id echoed) and
// GET /slow?ms=N, which answers after N milliseconds, as examples/demo
// does.
func Handler() http.Handler {
	pid := strconv.Itoa(os.Getpid())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Pid", pid)
		if id := r.Header.Get("X-Id"); id != "" {
			w.Header().Set("X-Id", id)
		}
		fmt.Fprintf(w, "hello from pid %s\n", pid)
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
		if err != nil || ms < 0 || ms > 600_000 {
			http.Error(w, "ms must be a whole number of milliseconds up to 600000", http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("X-Pid", pid)
		fmt.Fprintf(w, "slept %d ms in pid %s\n", ms, pid)
	})
	return mux
}

// Flags are what the bench tells every server it compares.
type Flags struct {
	Listen         string
	PIDFile        string
	ExtraListeners int
}

// Register defines -listen (listen by default), -pid-file and
// -extra-listeners on fs.
func (f *Flags) Register(fs *flag.FlagSet, listen string) {
	fs.StringVar(&f.Listen, "listen", listen, "TCP address to serve HTTP on")
	fs.StringVar(&f.PIDFile, "pid-file", "", "write the serving process's pid here")
	fs.IntVar(&f.ExtraListeners, "extra-listeners", 0, "idle listeners to hold besides, on 127.0.0.1 (plaindemo holds none)")
}

// NewLogger logs to stderr in format: text for people, json for programs
// that read the log (the bench does).
func NewLogger(format string) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, nil)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want text or json", format)
}

// WritePIDFile writes this process's pid to path, atomically: a reader
// sees no file or the whole pid.
func WritePIDFile(path string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
