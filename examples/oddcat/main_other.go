//go:build !unix

// oddcat needs SCM_RIGHTS, which this platform lacks.

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "oddcat: descriptor passing is not supported on this platform")
	os.Exit(1)
}
