package upgrader_test

import (
	"context"
	"errors"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

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

// A new generation that checks itself once it serves, and hands the
// service back to the previous generation (which watches it on probation)
// if the check fails. The previous generation accepts again at once and
// reports the upgrade rolled back with the reason given here.
func ExampleUpgrader_GiveBack() {
	u, err := upgrader.New(upgrader.Options{ControlPath: "/run/app/control.sock", Probation: 10 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer u.Stop()
	// ... Listen, serve, then:
	if err := u.Ready(); err != nil {
		log.Fatal(err)
	}
	if err := selfCheck(); err != nil {
		// ErrNotOnProbation: nobody watches any more (a cold start, or
		// probation is over); this generation has to serve on.
		if gerr := u.GiveBack("self-check: " + err.Error()); gerr != nil {
			log.Printf("self-check failed (%v), and cannot give back: %v", err, gerr)
		}
	}
	<-u.Exit() // ExitGaveBack after a give-back: drain and return
}

// selfCheck stands for the server's own health check.
func selfCheck() error { return nil }

// An upgrade that reports how probation ended.
func ExampleUpgrader_Upgrade() {
	u, err := upgrader.New(upgrader.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer u.Stop()
	// ... Listen, serve, Ready, then on a deploy:
	var rb *upgrader.RollbackError
	switch err := u.Upgrade(context.Background()); {
	case errors.As(err, &rb):
		log.Printf("the new build (pid %d) %s; still serving", rb.PID, rb.Reason)
	case err != nil:
		log.Printf("upgrade failed before the new build was ready: %v", err)
	default:
		<-u.Exit() // the new build passed probation: drain and return
	}
}
