// Command demo is the handoff demo server: an HTTP server that upgrades
// itself to a fresh copy of its own binary on SIGHUP without dropping a
// request, and drains and exits 0 on SIGTERM or SIGINT.
//
//	go run ./examples/demo -listen 127.0.0.1:8080 -pid-file demo.pid -control demo.sock
//
// GET / answers 200 with the serving process's pid in X-Pid (and echoes a
// request's X-Id); GET
// /slow?ms=N answers after N milliseconds, to hold a request in flight
// across an upgrade. Starting a second copy with the same -control path
// takes over from the first with no downtime. Idle keep-alive connections
// move to the next generation unless -move-conns=false; with -tls-cert and
// -tls-key it serves HTTPS (whose connections never move) and HTTP/3 on
// UDP at the same address (announced by Alt-Svc; package quicroute routes
// each generation's QUIC packets to it across upgrades), with X-Pid on
// every answer. One log line per lifecycle event goes to stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/handoff-go/handoff/examples/demo/demoapp"
	"github.com/handoff-go/handoff/httpdrain"
	"github.com/handoff-go/handoff/upgrader"
)

type config struct {
	listen         string
	pidFile        string
	control        string
	upgradeTimeout time.Duration
	drainTimeout   time.Duration
	idleGrace      time.Duration
	extra          int
	maxDraining    int
	moveConns      bool
	tlsCert        string
	tlsKey         string
	quicRouting    bool
	probation      time.Duration
}

// moveConnsDefault is the default of -move-conns; a build can flip it
// (-ldflags "-X main.moveConnsDefault=false"), which the e2e tests use to
// make a generation that never takes connections.
var moveConnsDefault = "true"

// crashAfterReady, when a build sets it (-ldflags "-X
// main.crashAfterReady=1s"), makes a bad build for trying rollbacks: the
// process exits with status 3 that long after it said it was ready.
var crashAfterReady = ""

func main() {
	var cfg config
	flag.StringVar(&cfg.listen, "listen", "127.0.0.1:8080", "TCP address to serve HTTP on")
	flag.StringVar(&cfg.pidFile, "pid-file", "", "write the serving process's pid here")
	flag.StringVar(&cfg.control, "control", "", "control socket path (for `handoff status|upgrade` and takeovers)")
	flag.DurationVar(&cfg.upgradeTimeout, "upgrade-timeout", 30*time.Second, "how long the next generation has to become ready")
	flag.DurationVar(&cfg.drainTimeout, "drain-timeout", 30*time.Second, "how long to finish requests in flight before cutting them")
	flag.DurationVar(&cfg.idleGrace, "idle-grace", time.Second, "while draining, close keep-alive connections idle this long")
	flag.IntVar(&cfg.extra, "extra-listeners", 0, "also hold this many idle listeners on 127.0.0.1:0 (for benchmarks)")
	flag.IntVar(&cfg.maxDraining, "max-draining", upgrader.DefaultMaxDraining, "refuse an upgrade while this many older generations still drain")
	flag.BoolVar(&cfg.moveConns, "move-conns", moveConnsDefault == "true", "hand idle keep-alive connections to the next generation instead of closing them")
	flag.StringVar(&cfg.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM file; needs -tls-key)")
	flag.StringVar(&cfg.tlsKey, "tls-key", "", "the private key of -tls-cert (PEM file)")
	flag.BoolVar(&cfg.quicRouting, "quic-routing", true, "with -tls-cert, route HTTP/3 packets to the generation that owns their connection (false: a plain http3.Server, which loses requests on upgrades)")
	flag.DurationVar(&cfg.probation, "probation", upgrader.DefaultProbation, "after the next generation is ready, keep the sockets this long and serve again if it dies (0: off)")
	logFormat := flag.String("log-format", "text", "log lines as `text` (key=value) or json")
	flag.Parse()
	log, err := demoapp.NewLogger(*logFormat)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(2)
	}
	if err := run(cfg, log); err != nil {
		log.Error("demo failed", "pid", os.Getpid(), "err", err)
		os.Exit(1)
	}
}

func run(cfg config, log *slog.Logger) error {
	u, err := upgrader.New(upgrader.Options{
		PIDFile:          cfg.pidFile,
		ControlPath:      cfg.control,
		UpgradeTimeout:   cfg.upgradeTimeout,
		MaxDraining:      cfg.maxDraining,
		Logger:           log,
		DisableConnMoves: !cfg.moveConns,
		Probation:        probation(cfg.probation),
	})
	if err != nil {
		return err
	}
	defer u.Stop()
	log = log.With("pid", os.Getpid(), "generation", u.Generation())

	ln, err := u.Listen("http", "tcp", cfg.listen)
	if err != nil {
		return err
	}
	extras, err := listenExtra(u, cfg.extra)
	if err != nil {
		return err
	}
	defer closeAll(extras)

	opts := httpdrain.Options{IdleGrace: cfg.idleGrace, Deadline: cfg.drainTimeout, Logger: log}
	if cfg.moveConns {
		opts.Mover = u.ConnMover()
	}
	handler := demoapp.Handler()
	var h3 *h3Server
	if cfg.tlsCert != "" {
		pid := strconv.Itoa(os.Getpid())
		if h3, err = startHTTP3(u, cfg, ln.Addr().String(), withHeaders(handler, pid, ""), log); err != nil {
			return err
		}
		handler = withHeaders(handler, pid, h3.altSvc())
	}
	srv := httpdrain.New(&http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}, opts)
	if cfg.tlsCert != "" {
		go srv.ServeTLS(ln, cfg.tlsCert, cfg.tlsKey)
	} else {
		go srv.Serve(ln)
	}

	// Catch every signal before Ready writes the pid file: a signal sent
	// the moment it appears must not meet its default action.
	stopSignals := u.UpgradeOnSignal(syscall.SIGHUP)
	defer stopSignals()
	term, stopTerm := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stopTerm()

	switch err := u.Ready(); {
	case errors.Is(err, upgrader.ErrPIDFile):
		log.Warn("serving, but the pid file was not written", "addr", ln.Addr().String(), "err", err)
	case err != nil:
		log.Error("not ready; draining what was accepted", "err", err)
	default:
		log.Info("serving", "addr", ln.Addr().String(), "mode", u.Mode())
		crashLater(log)
	}
	select {
	case <-u.Exit():
		log.Info(exitMessage(u.ExitReason()), "reason", u.ExitReason())
	case <-term.Done():
		log.Info("signalled to stop; draining")
		u.Stop()
	}
	return drain(srv, h3, cfg.drainTimeout, log)
}

// probation maps the flag, where 0 means off, to the option, where 0
// means the default.
func probation(d time.Duration) time.Duration {
	if d <= 0 {
		return upgrader.NoProbation
	}
	return d
}

// crashLater makes this a bad build when crashAfterReady is set.
func crashLater(log *slog.Logger) {
	d, err := time.ParseDuration(crashAfterReady)
	if err != nil {
		return
	}
	time.AfterFunc(d, func() {
		log.Error("crashing on purpose (a bad build: -X main.crashAfterReady)", "after", d.String())
		os.Exit(3)
	})
}

// exitMessage says in words why Exit closed.
func exitMessage(why upgrader.ExitReason) string {
	switch why {
	case upgrader.ExitHandedOver:
		return "handed over; draining"
	case upgrader.ExitStopRequested:
		return "stop requested over the control socket; draining"
	case upgrader.ExitReadyRefused:
		return "the previous generation refused our Ready; draining"
	case upgrader.ExitGaveBack:
		return "gave the service back to the previous generation; draining"
	}
	return "stopped; draining"
}

// drain drains HTTP/3 (if served) beside HTTP/1.1 and HTTP/2, under one
// deadline, and returns once both are done.
func drain(srv *httpdrain.Server, h3 *h3Server, timeout time.Duration, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	if h3 != nil {
		h3done := make(chan error, 1)
		go func() { h3done <- h3.drain(ctx) }()
		defer func() {
			if err := <-h3done; err != nil {
				log.Warn("HTTP/3 drain cut connections", "err", err)
			}
		}()
	}
	if err := srv.Drain(ctx); err != nil {
		log.Warn("drain cut connections", "err", err)
		return nil // the stop itself went as asked
	}
	log.Info("drained; exiting", "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

func listenExtra(u *upgrader.Upgrader, n int) ([]net.Listener, error) {
	lns := make([]net.Listener, 0, n)
	for i := range n {
		ln, err := u.Listen("extra-"+strconv.Itoa(i), "tcp", "127.0.0.1:0")
		if err != nil {
			closeAll(lns)
			return nil, errors.Join(fmt.Errorf("extra listener %d", i), err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		ln.Close()
	}
}
