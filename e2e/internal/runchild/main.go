//go:build linux

// Command runchild is a child for `handoff run` that misbehaves on
// purpose, in one of two ways.
//
// With -fork group or -fork setsid it starts a grandchild (itself again)
// that shares the listening socket (fd 3), answers GET / with X-Pid set to
// the child's pid (the generation it belongs to) and X-Self to its own,
// and ignores SIGTERM, in the child's process group or in a session of
// its own. The child serves too, says READY=1 once the grandchild runs,
// and exits 0 on SIGTERM, leaving the grandchild behind. Each grandchild's
// pid is appended to the -pids file, for the test's cleanup.
//
// With -flood D it sends STATUS= lines to NOTIFY_SOCKET as fast as it can
// for D, with READY=1 in the middle of them, and serves all along.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

const grandchildEnv = "RUNCHILD_GENERATION" // set in the grandchild: its child's pid

func main() {
	fork := flag.String("fork", "", "start a grandchild that ignores SIGTERM: group or setsid")
	pids := flag.String("pids", "", "append each grandchild's pid to `FILE`")
	flood := flag.Duration("flood", 0, "send STATUS= lines for `D`, READY=1 midway")
	flag.Parse()
	ln, f, err := listener()
	if err != nil {
		fmt.Fprintln(os.Stderr, "runchild:", err)
		os.Exit(1)
	}
	if leader := os.Getenv(grandchildEnv); leader != "" {
		signal.Ignore(syscall.SIGTERM)
		serve(ln, leader)
		return
	}
	gen := strconv.Itoa(os.Getpid())
	if *fork != "" {
		if err := startGrandchild(*fork, f, gen, *pids); err != nil {
			fmt.Fprintln(os.Stderr, "runchild:", err)
			os.Exit(1)
		}
	}
	f.Close()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go serve(ln, gen)
	if *flood > 0 {
		go floodStatus(*flood)
	} else {
		notify("READY=1")
	}
	<-stop
	ln.Close()
	os.Exit(0)
}

// listener takes the stream socket at fd 3 the systemd way.
func listener() (net.Listener, *os.File, error) {
	if os.Getenv(grandchildEnv) == "" && os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) {
		return nil, nil, errors.New("no sockets (LISTEN_PID): run under handoff run")
	}
	f := os.NewFile(3, "listener")
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, nil, fmt.Errorf("fd 3: %w", err)
	}
	return ln, f, nil
}

func startGrandchild(mode string, f *os.File, gen, pidsFile string) error {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), grandchildEnv+"="+gen)
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	switch mode {
	case "group":
	case "setsid":
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	default:
		return fmt.Errorf("-fork %q: want group or setsid", mode)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	if pidsFile != "" {
		out, err := os.OpenFile(pidsFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, cmd.Process.Pid)
		out.Close()
	}
	return nil
}

func serve(ln net.Listener, gen string) {
	self := strconv.Itoa(os.Getpid())
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Pid", gen)
		w.Header().Set("X-Self", self)
		fmt.Fprintln(w, "ok")
	}))
}

// floodStatus sends STATUS= lines for d, and READY=1 halfway.
func floodStatus(d time.Duration) {
	c, err := net.Dial("unixgram", os.Getenv("NOTIFY_SOCKET"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "runchild:", err)
		os.Exit(1)
	}
	defer c.Close()
	start := time.Now()
	ready := false
	n := 0
	for time.Since(start) < d {
		if !ready && time.Since(start) > d/2 {
			c.Write([]byte("READY=1"))
			ready = true
		}
		n++
		c.Write([]byte("STATUS=flood " + strconv.Itoa(n)))
	}
	c.Write([]byte("STATUS=flood over after " + strconv.Itoa(n)))
	fmt.Fprintf(os.Stderr, "runchild: sent %d status lines in %v\n", n, d)
}

func notify(state string) {
	c, err := net.Dial("unixgram", os.Getenv("NOTIFY_SOCKET"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "runchild:", err)
		return
	}
	c.Write([]byte(state))
	c.Close()
}
