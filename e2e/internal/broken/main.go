// Command broken stands in for a bad deploy: it exits with status 3 at
// once, before it could become ready.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "broken: this build refuses to start")
	os.Exit(3)
}
