package upgrader_test

import (
	"context"
	"errors"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/handoff-go/handoff/httpdrain"
	"github.com/handoff-go/handoff/upgrader"
)

// A server that upgrades on SIGHUP and drains on SIGTERM. It compiles but
// does not run as a test: it is a whole process's life.
func Example() {
	u, err := upgrader.New(upgrader.Options{PIDFile: "/run/app/app.pid", ControlPath: "/run/app/control.sock"})
	if err != nil {
		log.Fatal(err) // e.g. the previous generation refused, or a bad control path
	}
	defer u.Stop()

	ln, err := u.Listen("http", "tcp", ":8080") // inherited by name, or bound
	if err != nil {
		log.Fatal(err)
	}
	srv := httpdrain.New(&http.Server{Handler: http.NotFoundHandler()}, httpdrain.Options{})
	go srv.Serve(ln)

	// Catch the signals before Ready writes the pid file.
	stop := u.UpgradeOnSignal(syscall.SIGHUP)
	defer stop()
	term, stopTerm := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stopTerm()

	if err := u.Ready(); err != nil && !errors.Is(err, upgrader.ErrPIDFile) {
		log.Print(err) // the previous generation kept serving: drain what we accepted
	}
	select {
	case <-u.Exit(): // handed over, or `handoff stop`: u.ExitReason() says which
	case <-term.Done():
		u.Stop()
	}
	if err := srv.Drain(context.Background()); err != nil {
		os.Exit(1)
	}
}
