// Command plaindemo serves the demo's handler (examples/demo/demoapp) on
// a plain http.Server, with no upgrader, no drain and no extra listeners:
// the baseline the bench measures the demo's steady-state throughput
// against. It writes -pid-file once it serves and exits on SIGTERM or
// SIGINT.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/peer"
	"github.com/handoff-go/handoff/examples/demo/demoapp"
)

func main() {
	var f peer.Flags
	f.Register(flag.CommandLine, "127.0.0.1:8082")
	flag.Parse()
	if err := run(f.Listen, f.PIDFile); err != nil {
		fmt.Fprintln(os.Stderr, "plaindemo:", err)
		os.Exit(1)
	}
}

func run(listen, pidFile string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: demoapp.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	if pidFile != "" {
		if err := peer.WritePIDFile(pidFile); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	<-ctx.Done()
	return srv.Close()
}
