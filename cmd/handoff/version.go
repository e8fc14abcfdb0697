package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

// runVersion prints the module's version (a tag, a pseudo-version, or
// "(devel)" for a build from a work tree) and the Go version, from the
// build information the linker put in the binary.
func runVersion(args []string, stdout io.Writer) error {
	fs := newFlags("version")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badUsage(fs, "unexpected argument %q", fs.Arg(0))
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return fmt.Errorf("this binary carries no build information")
	}
	fmt.Fprintf(stdout, "handoff %s %s\n", bi.Main.Version, bi.GoVersion)
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" || s.Key == "vcs.modified" {
			fmt.Fprintf(stdout, "%s=%s\n", s.Key, s.Value)
		}
	}
	return nil
}
