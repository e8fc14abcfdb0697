//go:build !unix

// goserver takes inherited descriptors by number, which this platform
// does not pass.

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "goserver: LISTEN_FDS socket passing is not supported on this platform")
	os.Exit(1)
}
