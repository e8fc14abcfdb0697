//go:build linux

// Command diesafterready stands in for a deploy that passes its readiness
// check and dies soon after, as a build that fails on its first real
// requests would: it sends READY=1 on NOTIFY_SOCKET and exits with status
// 3 one second later. With DIESAFTERREADY_SERVE=1 it serves GET / on the
// socket at fd 3 until then (X-Pid set to its pid); otherwise it never
// accepts.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

const lifetime = time.Second // from READY=1 to the exit

func main() {
	if os.Getenv("DIESAFTERREADY_SERVE") == "1" {
		ln, err := net.FileListener(os.NewFile(3, "listener"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "diesafterready: fd 3:", err)
			os.Exit(5)
		}
		pid := strconv.Itoa(os.Getpid())
		go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Pid", pid)
			fmt.Fprintln(w, "ok")
		}))
	}
	c, err := net.Dial("unixgram", os.Getenv("NOTIFY_SOCKET"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "diesafterready:", err)
		os.Exit(5)
	}
	c.Write([]byte("READY=1"))
	c.Close()
	time.Sleep(lifetime)
	fmt.Fprintln(os.Stderr, "diesafterready: ready a while ago, and now dying")
	os.Exit(3)
}
