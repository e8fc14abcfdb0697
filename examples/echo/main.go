// Command echo is a raw TCP echo server that restarts with no downtime:
// SIGHUP upgrades it to a fresh copy of its binary, and SIGTERM or SIGINT
// drains it and exits 0. It shows package conndrain, which tracks the
// connections of a raw listener so that a drain can wait for them.
//
//	go build -o /tmp/echo ./examples/echo && /tmp/echo -listen 127.0.0.1:7007 -pid-file echo.pid
//
// A connection stays with the generation that accepted it until its client
// closes it: after an upgrade the old process serves its clients on and
// exits once they are gone (or at -drain-timeout), while new connections
// go to the new process. With -hello each connection first gets a line
// naming the pid that serves it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/handoff-go/handoff/conndrain"
	"github.com/handoff-go/handoff/upgrader"
)

type config struct {
	listen       string
	pidFile      string
	control      string
	drainTimeout time.Duration
	hello        bool
}

func main() {
	var cfg config
	flag.StringVar(&cfg.listen, "listen", "127.0.0.1:7007", "TCP address to echo on")
	flag.StringVar(&cfg.pidFile, "pid-file", "", "write the serving process's pid here")
	flag.StringVar(&cfg.control, "control", "", "control socket path (for `handoff status|upgrade|stop` and takeovers)")
	flag.DurationVar(&cfg.drainTimeout, "drain-timeout", 30*time.Second, "how long clients have to hang up before they are cut")
	flag.BoolVar(&cfg.hello, "hello", false, `greet each connection with "echo: pid N"`)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(cfg, log); err != nil {
		log.Error("echo failed", "pid", os.Getpid(), "err", err)
		os.Exit(1)
	}
}

func run(cfg config, log *slog.Logger) error {
	u, err := upgrader.New(upgrader.Options{PIDFile: cfg.pidFile, ControlPath: cfg.control, Logger: log,
		DisableConnMoves: true}) // a raw protocol: connections never move
	if err != nil {
		return err
	}
	defer u.Stop()
	log = log.With("pid", os.Getpid(), "generation", u.Generation())

	ln, err := u.Listen("echo", "tcp", cfg.listen)
	if err != nil {
		return err
	}
	srv := conndrain.New(ln, conndrain.Options{})
	go serve(srv, cfg.hello)

	// Catch every signal before Ready writes the pid file.
	stopSignals := u.UpgradeOnSignal(syscall.SIGHUP)
	defer stopSignals()
	term, stopTerm := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stopTerm()

	if err := u.Ready(); err != nil && !errors.Is(err, upgrader.ErrPIDFile) {
		log.Error("not ready; draining what was accepted", "err", err)
	} else {
		log.Info("serving", "addr", ln.Addr().String(), "mode", u.Mode())
	}
	select {
	case <-u.Exit():
		log.Info("draining", "reason", u.ExitReason(), "open", srv.Active())
	case <-term.Done():
		log.Info("draining", "reason", "signal", "open", srv.Active())
		u.Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.drainTimeout)
	defer cancel()
	if err := srv.Drain(ctx); err != nil {
		log.Warn("drain cut connections", "err", err)
		return nil // the stop itself went as asked
	}
	log.Info("drained; exiting")
	return nil
}

// serve accepts until the drain closes the listener.
func serve(srv *conndrain.Listener, hello bool) {
	for {
		c, err := srv.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil { // out of descriptors, say: try again shortly
			time.Sleep(50 * time.Millisecond)
			continue
		}
		go echo(c, hello)
	}
}

func echo(c net.Conn, hello bool) {
	defer c.Close() // ends the connection's tracking
	if hello {
		if _, err := fmt.Fprintf(c, "echo: pid %d\n", os.Getpid()); err != nil {
			return
		}
	}
	io.Copy(c, c)
}
