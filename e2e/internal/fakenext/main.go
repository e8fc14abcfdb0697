// Command fakenext is a next generation that takes the listeners like the
// demo but misbehaves when the previous generation moves connections to
// it, as HANDOFF_FAKENEXT_MODE says:
//
//   - refuse: receives a whole round, then answers Abort instead of Held;
//   - hangup: reads the first batch, then closes its end of the control
//     connection, as a receiver that dies mid-move does;
//   - stall: reads the manifest, then nothing more, without closing.
//
// It serves GET / with X-Pid on the inherited "http" listener and writes
// the -pid-file once ready, so tests drive it like the demo; it runs until
// killed. It speaks the wire protocol directly (e2e may import internal
// packages) so that the faults are exact.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"

	"github.com/handoff-go/handoff/internal/wire"
)

func main() {
	err := run(os.Getenv("HANDOFF_FAKENEXT_MODE"))
	fmt.Fprintln(os.Stderr, "fakenext:", err)
	os.Exit(1)
}

// run serves until killed; it returns only the error that stopped it.
func run(mode string) error {
	c, err := parentConn()
	if err != nil {
		return err
	}
	pid := os.Getpid()
	if err := c.Send(wire.TypeHello, wire.Hello{PID: pid, Conns: true}); err != nil {
		return err
	}
	var hello wire.Hello
	if err := c.Expect(wire.TypeHello, &hello); err != nil {
		return err
	}
	ln, err := receiveHTTP(c)
	if err != nil {
		return err
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Pid", strconv.Itoa(pid))
		if id := r.Header.Get("X-Id"); id != "" {
			w.Header().Set("X-Id", id)
		}
		fmt.Fprintf(w, "hello from fakenext %d\n", pid)
	}))
	if err := c.Send(wire.TypeReady, wire.Ready{PID: pid}); err != nil {
		return err
	}
	if err := c.Expect(wire.TypeReadyAck, nil); err != nil {
		return err
	}
	if err := writePIDFile(pidFileArg(), pid); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "fakenext %d: ready, mode %q\n", pid, mode)
	c.SetTimeout(0)
	misbehave(c, mode)
	select {} // serve until killed
}

func misbehave(c *wire.Conn, mode string) {
	switch mode {
	case "refuse":
		_, fds, err := c.RecvFiles()
		closeAll(fds)
		if err == nil {
			c.Send(wire.TypeAbort, wire.Abort{Reason: "fakenext refuses connections"})
		}
		fmt.Fprintf(os.Stderr, "fakenext: refused %d connections (%v)\n", len(fds), err)
	case "hangup":
		var m wire.Manifest
		err := c.Expect(wire.TypeManifest, &m)
		_, berr := c.Recv() // the first batch: its fds are closed, it is never acked
		c.Close()
		fmt.Fprintf(os.Stderr, "fakenext: hung up after a manifest of %d (%v, %v)\n", m.Count, err, berr)
	case "stall":
		var m wire.Manifest
		err := c.Expect(wire.TypeManifest, &m)
		fmt.Fprintf(os.Stderr, "fakenext: stalls after a manifest of %d (%v)\n", m.Count, err)
	}
}

func parentConn() (*wire.Conn, error) {
	n, err := strconv.Atoi(os.Getenv("HANDOFF_FD"))
	if err != nil {
		return nil, fmt.Errorf("HANDOFF_FD: %w", err)
	}
	f := os.NewFile(uintptr(n), "parent")
	defer f.Close()
	nc, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	uc, ok := nc.(*net.UnixConn)
	if !ok {
		return nil, fmt.Errorf("HANDOFF_FD is a %T", nc)
	}
	return wire.NewConn(uc), nil
}

// receiveHTTP takes the listener set and keeps the one named "http".
func receiveHTTP(c *wire.Conn) (net.Listener, error) {
	entries, fds, err := c.RecvFiles()
	if err != nil {
		return nil, err
	}
	var ln net.Listener
	for i, e := range entries {
		if e.Name == "http" && ln == nil {
			f := os.NewFile(uintptr(fds[i]), e.Name)
			ln, err = net.FileListener(f)
			f.Close()
			if err != nil {
				return nil, err
			}
			continue
		}
		closeAll(fds[i : i+1])
	}
	if ln == nil {
		return nil, fmt.Errorf("no listener named http among %d", len(entries))
	}
	return ln, nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		os.NewFile(uintptr(fd), "").Close()
	}
}

func pidFileArg() string {
	for i, a := range os.Args {
		if (a == "-pid-file" || a == "--pid-file") && i+1 < len(os.Args) {
			return os.Args[i+1]
		}
	}
	return ""
}

func writePIDFile(path string, pid int) error {
	if path == "" {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
