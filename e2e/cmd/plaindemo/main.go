// Command plaindemo serves the demo's GET / on a plain http.Server, with
// no upgrader and no drain: the baseline the bench measures the demo's
// steady-state throughput against. It writes -pid-file once it serves and
// exits on SIGTERM or SIGINT.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8082", "TCP address to serve HTTP on")
	pidFile := flag.String("pid-file", "", "write the serving process's pid here")
	flag.Int("extra-listeners", 0, "ignored (the bench passes it to every server)")
	flag.Parse()
	if err := run(*listen, *pidFile); err != nil {
		fmt.Fprintln(os.Stderr, "plaindemo:", err)
		os.Exit(1)
	}
}

func run(listen, pidFile string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	pid := strconv.Itoa(os.Getpid())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Pid", pid)
		if id := r.Header.Get("X-Id"); id != "" {
			w.Header().Set("X-Id", id)
		}
		fmt.Fprintf(w, "hello from pid %s\n", pid)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	if pidFile != "" {
		tmp := pidFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(pid+"\n"), 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, pidFile); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	<-ctx.Done()
	return srv.Close()
}
