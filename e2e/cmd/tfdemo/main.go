//go:build unix

// Command tfdemo is the peer the benchmarks compare handoff against: the
// demo's HTTP contract served by cloudflare/tableflip, written the way
// tableflip's own example is (Serve on the inherited listener, Shutdown
// once the next generation is ready).
//
//	tfdemo -listen 127.0.0.1:8081 -pid-file tf.pid [-extra-listeners N] [-events FILE] [-log-format text|json]
//
// With -events, every generation appends its lifecycle points to FILE as
// JSON lines (see event), which is how the bench times tableflip's
// upgrades without reading its log.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/cloudflare/tableflip"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "TCP address to serve HTTP on")
	pidFile := flag.String("pid-file", "", "write the serving process's pid here")
	extra := flag.Int("extra-listeners", 0, "also hold this many idle listeners on 127.0.0.1:0")
	eventsPath := flag.String("events", "", "append lifecycle events to this file as JSON lines")
	logFormat := flag.String("log-format", "text", "log lines as `text` (key=value) or json")
	flag.Parse()
	log, err := newLogger(*logFormat)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tfdemo:", err)
		os.Exit(2)
	}
	log = log.With("pid", os.Getpid())
	var ev *events
	if *eventsPath != "" {
		if ev, err = openEvents(*eventsPath); err != nil {
			log.Error("tfdemo failed", "err", err)
			os.Exit(1)
		}
	}
	ev.note("started", nil)
	err = run(*listen, *pidFile, *extra, log, ev)
	ev.note("exiting", err)
	ev.close()
	if err != nil {
		log.Error("tfdemo failed", "err", err)
		os.Exit(1)
	}
}

// newLogger logs to stderr in format: text for people, json for programs
// that read the log (the bench does).
func newLogger(format string) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, nil)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want text or json", format)
}

func run(listen, pidFile string, extra int, log *slog.Logger, ev *events) error {
	upg, err := tableflip.New(tableflip.Options{PIDFile: pidFile, UpgradeTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer upg.Stop()
	// tableflip's example calls signal.Notify inside the goroutine; doing
	// it here, before Ready writes the pid file, keeps an early SIGHUP from
	// killing the process by its default action (seen in bench runs).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go upgradeOnHUP(upg, hup, log, ev)

	ln, err := upg.Listen("tcp", listen)
	if err != nil {
		return err
	}
	for i := range extra {
		// tableflip keys listeners by network and address, so each idle
		// listener needs an address of its own to be inherited.
		if _, err := upg.Listen("tcp", "127.0.0.1:"+strconv.Itoa(extraPort(i))); err != nil {
			return fmt.Errorf("extra listener %d: %w", i, err)
		}
	}
	server := &http.Server{Handler: handler(), ReadHeaderTimeout: 10 * time.Second}
	go server.Serve(ln)
	if err := upg.Ready(); err != nil {
		return err
	}
	ev.note("ready", nil)
	log.Info("serving", "addr", ln.Addr().String())
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-upg.Exit():
	case <-term:
		upg.Stop()
	}
	time.AfterFunc(30*time.Second, func() {
		log.Error("graceful shutdown timed out")
		os.Exit(1)
	})
	server.Shutdown(context.Background())
	log.Info("exiting")
	return nil
}

// extraPort spreads idle listeners over a port range the kernel does not
// hand out for ephemeral ports by default (32768-60999).
func extraPort(i int) int { return 20000 + i }

func upgradeOnHUP(upg *tableflip.Upgrader, sig <-chan os.Signal, log *slog.Logger, ev *events) {
	for range sig {
		ev.note("upgrading", nil)
		if err := upg.Upgrade(); err != nil {
			ev.note("refused", err)
			log.Warn("upgrade failed", "err", err)
		}
	}
}

func handler() http.Handler {
	pid := strconv.Itoa(os.Getpid())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Pid", pid)
		fmt.Fprintf(w, "hello from pid %s\n", pid)
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		w.Header().Set("X-Pid", pid)
		fmt.Fprintf(w, "slept %d ms in pid %s\n", ms, pid)
	})
	return mux
}
