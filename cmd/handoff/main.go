// Command handoff operates servers that embed handoff's upgrader, through
// their control socket.
//
//	handoff status  -control PATH [-json]
//	handoff upgrade -control PATH [-timeout D] [-wait D]
//	handoff stop    -control PATH [-timeout D]
//	handoff run [flags] -listen NAME=NETWORK://ADDR ... -- PROGRAM [ARGS...]
//	handoff help [COMMAND]
//
// upgrade is synchronous: it prints each step as it happens and exits 0
// once the new process serves, or non-zero with the reason when the
// upgrade failed and the old process kept serving. stop drains: it returns
// once the serving generation and every draining one are gone, for a
// systemd unit's ExecStop. run supervises a server in any language that
// takes its sockets the systemd way (LISTEN_FDS) and replaces it on
// upgrade (Linux). PATH defaults to $HANDOFF_CONTROL.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // the operation failed; the message says why
	exitUsage  = 2
)

type command struct {
	name, args, summary string
	run                 func(args []string, stdout io.Writer) error
}

var commands []command

func init() { // in init: the commands' run funcs refer back to this table for their usage
	commands = []command{
		{"status", "-control PATH [-json]", "show the serving process: pid, generation, state, listeners, draining generations", runStatus},
		{"upgrade", "-control PATH [-timeout D] [-wait D]", "start the next generation and wait until it serves (exit 0) or failed (exit 1)", runUpgrade},
		{"stop", "-control PATH [-timeout D]", "stop the serving generation and wait until every generation is gone (exit 0) or the timeout (exit 1)", runStop},
		{"run", "[flags] -listen NAME=NETWORK://ADDR ... -- PROGRAM [ARGS...]", "supervise PROGRAM in any language: it gets the sockets as LISTEN_FDS and says READY=1; upgrades replace it with no downtime", runRun},
	}
}

// errUsage marks errors that are the caller's words, not the server's.
var errUsage = errors.New("usage")

func main() {
	if len(os.Args) > 1 && os.Args[1] == shimCommand { // a child of `handoff run`, about to exec
		os.Exit(runShim(os.Args[2:]))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || isHelp(args[0]) || args[0] == "help" {
		return help(args, stdout, stderr)
	}
	cmd, ok := find(args[0])
	if !ok {
		fmt.Fprintf(stderr, "handoff: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	err := cmd.run(args[1:], stdout)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "handoff %s: %v\nusage: handoff %s %s\n", cmd.name, err, cmd.name, cmd.args)
		return exitUsage
	}
	fmt.Fprintf(stderr, "handoff %s: %v\n", cmd.name, err)
	return exitFailed
}

func help(args []string, stdout, stderr io.Writer) int {
	if len(args) > 1 {
		cmd, ok := find(args[1])
		if !ok {
			fmt.Fprintf(stderr, "handoff help: unknown command %q\n", args[1])
			return exitUsage
		}
		cmd.run([]string{"-h"}, stdout)
		return exitOK
	}
	usage(stdout)
	return exitOK
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "handoff operates servers that restart with no downtime, through their control socket.")
	fmt.Fprintln(w, "\nusage:")
	for _, c := range commands {
		fmt.Fprintf(w, "  handoff %-8s %s\n      %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintln(w, "  handoff help [COMMAND]\n\nPATH defaults to $HANDOFF_CONTROL. Exit status: 0 done, 1 failed, 2 usage.")
}

func find(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func isHelp(s string) bool { return s == "-h" || s == "-help" || s == "--help" }

// newFlags makes a command's flag set: -h prints its usage to stdout.
func newFlags(name string, stdout io.Writer) (*flag.FlagSet, *string) {
	cmd, _ := find(name)
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "usage: handoff %s %s\n  %s\n\n", name, cmd.args, cmd.summary)
		fs.PrintDefaults()
	}
	control := fs.String("control", os.Getenv("HANDOFF_CONTROL"), "control socket `PATH` of the server")
	return fs, control
}

// parse parses args and checks that a control path was given.
func parse(fs *flag.FlagSet, control *string, args []string) error {
	fs.SetOutput(io.Discard) // errors are reported once, by run
	if len(args) > 0 && isHelp(args[0]) {
		fs.Usage()
		return flag.ErrHelp
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *control == "" {
		return fmt.Errorf("%w: no control socket: give -control PATH or set HANDOFF_CONTROL", errUsage)
	}
	return nil
}
