//go:build unix

// Command goserver is a Go HTTP server for `handoff run` that does not
// import handoff: it takes its sockets the systemd way (LISTEN_PID,
// LISTEN_FDS and LISTEN_FDNAMES, fds from 3), says READY=1 on
// NOTIFY_SOCKET, and drains on SIGTERM or SIGINT without losing a request.
//
//	go build -o goserver ./examples/run/goserver
//	handoff run -listen http=tcp://127.0.0.1:8080 -- ./goserver
//
// GET / answers 200 with the serving pid in X-Pid; GET /slow?ms=N answers
// after N milliseconds. The same binary runs under systemd socket
// activation unchanged.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const listenFDsStart = 3 // SD_LISTEN_FDS_START

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("pid", os.Getpid(), "component", "goserver")
	if err := run(log); err != nil {
		log.Error("goserver failed", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	ln, err := listener("http")
	if err != nil {
		return err
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	srv := newServer()
	served := make(chan error, 1)
	go func() { served <- srv.http.Serve(ln) }()
	if err := notify("READY=1\nSTATUS=serving " + ln.Addr().String()); err != nil {
		log.Warn("sd_notify", "err", err)
	}
	log.Info("ready", "addr", ln.Addr().String())
	sig := <-stop
	log.Info("draining", "signal", sig.String())
	notify("STOPPING=1")
	srv.draining.Store(true)
	ln.Close() // stop accepting: the socket lives on in the other generation
	<-served   // every connection Accept returned is now known to the server
	left := srv.drain(30*time.Second, time.Second)
	log.Info("drained", "cut", left)
	return nil
}

// listener returns the inherited stream socket named name in
// LISTEN_FDNAMES, or the first one.
func listener(name string) (net.Listener, error) {
	if os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) {
		return nil, errors.New("no sockets for this process (LISTEN_PID): run under handoff run or systemd")
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n < 1 {
		return nil, fmt.Errorf("LISTEN_FDS=%q: want at least one socket", os.Getenv("LISTEN_FDS"))
	}
	names := strings.Split(os.Getenv("LISTEN_FDNAMES"), ":")
	for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		os.Unsetenv(k)
	}
	pick := 0
	for i := range n {
		syscall.CloseOnExec(listenFDsStart + i)
		if i < len(names) && names[i] == name {
			pick = i
		}
	}
	f := os.NewFile(uintptr(listenFDsStart+pick), name)
	defer f.Close() // FileListener made its own dup
	return net.FileListener(f)
}

// notify sends state to NOTIFY_SOCKET (sd_notify(3)), if set.
func notify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] == '@' {
		path = "\x00" + path[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte(state))
	return err
}

// server is an http.Server whose drain loses nothing: once draining,
// every response says Connection: close, and a keep-alive connection is
// closed only after it idled a grace period. It never calls Shutdown,
// which closes idle connections at once, racing a client's next request.
type server struct {
	http     *http.Server
	draining atomic.Bool
	mu       sync.Mutex
	idle     map[net.Conn]time.Time // idle since
	live     int
}

func newServer() *server {
	s := &server{idle: map[net.Conn]time.Time{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/", s.hello)
	mux.HandleFunc("/slow", s.slow)
	s.http = &http.Server{Handler: mux, ConnState: s.track, ReadHeaderTimeout: 10 * time.Second}
	return s
}

func (s *server) hello(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	s.answer(w)
}

func (s *server) slow(w http.ResponseWriter, r *http.Request) {
	ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
	select {
	case <-time.After(time.Duration(ms) * time.Millisecond):
	case <-r.Context().Done():
		return
	}
	s.answer(w)
}

func (s *server) answer(w http.ResponseWriter) {
	w.Header().Set("X-Pid", strconv.Itoa(os.Getpid()))
	if s.draining.Load() {
		w.Header().Set("Connection", "close")
	}
	fmt.Fprintf(w, "hello from pid %d\n", os.Getpid())
}

func (s *server) track(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch st {
	case http.StateNew:
		s.live++
	case http.StateIdle:
		s.idle[c] = time.Now()
	case http.StateActive:
		delete(s.idle, c)
	case http.StateClosed, http.StateHijacked:
		delete(s.idle, c)
		s.live--
	}
}

// drain waits until every connection is gone, closing those idle for
// grace, for at most timeout; it returns how many it had to cut.
func (s *server) drain(timeout, grace time.Duration) int {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		live := s.live
		for c, since := range s.idle {
			if time.Since(since) >= grace {
				c.Close()
				delete(s.idle, c)
			}
		}
		s.mu.Unlock()
		if live == 0 {
			return 0
		}
		select {
		case <-ctx.Done():
			s.http.Close()
			return live
		case <-tick.C:
		}
	}
}
