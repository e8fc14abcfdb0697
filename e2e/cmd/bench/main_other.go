//go:build !linux

// The bench drives real processes through /proc, subreaping and SIGHUP
// upgrades, which only Linux offers as it needs them.

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "bench: unsupported on this OS; it runs on Linux only")
	os.Exit(2)
}
