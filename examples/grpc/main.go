// Command grpc is a gRPC server under the upgrader: SIGHUP starts a fresh
// copy of the binary, hands it the listening socket, and once it is ready
// this one drains with GracefulStop (GOAWAY, then every call and stream in
// flight finishes) and exits 0. SIGTERM or SIGINT drains and exits too.
//
//	go run ./examples/grpc -listen 127.0.0.1:50051 -pid-file grpc.pid -control grpc.sock
//
// It serves handoff.Echo (package echosvc), hand-written, without protoc.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/handoff-go/handoff/examples/grpc/echosvc"
	"github.com/handoff-go/handoff/upgrader"
	"google.golang.org/grpc"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:50051", "TCP address to serve gRPC on")
	pidFile := flag.String("pid-file", "", "write the serving process's pid here")
	control := flag.String("control", "", "control socket path (for `handoff status|upgrade` and takeovers)")
	drainTimeout := flag.Duration("drain-timeout", 30*time.Second, "how long calls in flight may take to finish before they are cut")
	probation := flag.Duration("probation", upgrader.DefaultProbation, "after the next generation is ready, keep the socket this long and serve again if it dies (0: off)")
	flag.Parse()
	if *probation <= 0 {
		*probation = upgrader.NoProbation
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*listen, *pidFile, *control, *drainTimeout, *probation, log); err != nil {
		log.Error("grpc example failed", "pid", os.Getpid(), "err", err)
		os.Exit(1)
	}
}

func run(listen, pidFile, control string, drainTimeout, probation time.Duration, log *slog.Logger) error {
	u, err := upgrader.New(upgrader.Options{PIDFile: pidFile, ControlPath: control, Logger: log, Probation: probation})
	if err != nil {
		return err
	}
	defer u.Stop()
	log = log.With("pid", os.Getpid(), "generation", u.Generation())
	ln, err := u.Listen("grpc", "tcp", listen)
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	echosvc.Register(srv)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

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
		log.Info("handed over or stopped; draining", "reason", u.ExitReason())
	case <-term.Done():
		log.Info("signalled to stop; draining")
		u.Stop()
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	}
	return drain(srv, drainTimeout, log)
}

// drain sends GOAWAY and waits for every call and stream in flight, up to
// timeout; past it, what is left is cut.
func drain(srv *grpc.Server, timeout time.Duration, log *slog.Logger) error {
	start := time.Now()
	done := make(chan struct{})
	go func() { srv.GracefulStop(); close(done) }()
	select {
	case <-done:
		log.Info("drained; exiting", "took", time.Since(start).Round(time.Millisecond).String())
	case <-time.After(timeout):
		srv.Stop()
		<-done
		log.Warn("drain deadline passed; calls cut", "after", timeout.String())
	}
	return nil
}
