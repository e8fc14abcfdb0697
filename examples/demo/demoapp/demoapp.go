// Package demoapp is what the demo (examples/demo) serves and how it
// logs, apart from its lifecycle. The servers the bench compares it with
// (e2e/cmd/tfdemo, e2e/cmd/plaindemo) serve this very handler, so that
// every one answers the same requests with the same work.
package demoapp

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"
)

// Handler serves GET / with the serving process's pid in X-Pid (and the
// request's X-Id echoed, so that a client can pair each answer with its
// request), and GET /slow?ms=N, which answers after N milliseconds, to
// hold a request in flight across an upgrade.
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
