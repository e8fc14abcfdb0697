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

	"github.com/handoff-go/handoff/e2e/internal/peer"
	"github.com/handoff-go/handoff/examples/demo/demoapp"
)

// crashAfterReady, when a build sets it (-ldflags "-X
// main.crashAfterReady=1s"), makes a bad build, as in examples/demo: the
// process exits with status 3 that long after it is ready.
var crashAfterReady = ""

func main() {
	var f peer.Flags
	f.Register(flag.CommandLine, "127.0.0.1:8081")
	eventsPath := flag.String("events", "", "append lifecycle events to this file as JSON lines")
	logFormat := flag.String("log-format", "text", "log lines as `text` (key=value) or json")
	flag.Parse()
	log, err := demoapp.NewLogger(*logFormat)
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
	err = run(f.Listen, f.PIDFile, f.ExtraListeners, log, ev)
	ev.note("exiting", err)
	ev.close()
	if err != nil {
		log.Error("tfdemo failed", "err", err)
		os.Exit(1)
	}
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
	server := &http.Server{Handler: demoapp.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go server.Serve(ln)
	if err := upg.Ready(); err != nil {
		return err
	}
	ev.note("ready", nil)
	log.Info("serving", "addr", ln.Addr().String())
	peer.CrashAfterReady(crashAfterReady, log)
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
