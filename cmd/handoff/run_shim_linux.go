package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// runShim is a child's first moment: args are PROGRAM's resolved path,
// then its argv. It only returns when exec failed.
func runShim(args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "handoff run: internal shim called without a program")
		return exitUsage
	}
	env := append(os.Environ(), "LISTEN_PID="+strconv.Itoa(os.Getpid()))
	err := syscall.Exec(args[0], args[1:], env)
	fmt.Fprintf(os.Stderr, "handoff run: exec %s: %v\n", args[0], err)
	return 127
}
