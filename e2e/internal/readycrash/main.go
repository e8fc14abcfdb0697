// Command readycrash stands in for a deploy that dies just after it said
// it was ready: it sends READY=1 on NOTIFY_SOCKET and exits with status 4.
package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	c, err := net.Dial("unixgram", os.Getenv("NOTIFY_SOCKET"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "readycrash:", err)
		os.Exit(5)
	}
	c.Write([]byte("READY=1"))
	c.Close()
	fmt.Fprintln(os.Stderr, "readycrash: ready, and now crashing")
	os.Exit(4)
}
