// Command handoff operates servers that embed handoff's upgrader, through
// their control socket.
//
//	handoff status  -control PATH [-json]
//	handoff upgrade -control PATH [-timeout D] [-wait D]
//	handoff stop    -control PATH [-timeout D]
//	handoff run [flags] -listen NAME=NETWORK://ADDR ... -- PROGRAM [ARGS...]
//	handoff version
//	handoff help [COMMAND]
//
// upgrade is synchronous: it prints each step as it happens and exits 0
// once the new process serves, or non-zero with the reason when the
// upgrade failed and the old process kept serving. stop drains: it returns
// once the serving generation and every draining one are gone, for a
// systemd unit's ExecStop. run supervises a server in any language that
// takes its sockets the systemd way (LISTEN_FDS) and replaces it on
// upgrade (Linux). PATH defaults to $HANDOFF_CONTROL. `handoff COMMAND -h`
// lists a command's flags, their defaults and its exit statuses.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/handoff-go/handoff/control"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // the operation failed; the message says why
	exitUsage  = 2
	// exitNoAnswer: the server did not answer in time (out of fds,
	// stuck); the request was withdrawn and not carried out.
	exitNoAnswer = 3
	// exitUnknown: the server received the request, then the answer was
	// lost: it may have been carried out.
	exitUnknown = 4
	// exitRolledBack: the new process became ready, then died on
	// probation; the old one serves again.
	exitRolledBack = 5
)

// exitsCommon are the exit statuses every command that asks a server shares.
const exitsCommon = `  2  usage error
  3  no answer from the server in time (out of file descriptors, or stuck):
     the request was withdrawn, and the server drops it unread
  4  the server received the request, then the answer was lost: it may have
     been carried out; see handoff status`

type command struct {
	name, args, summary string
	exits               string // what each exit status means, for -h
	run                 func(args []string, stdout io.Writer) error
}

var commands []command

func init() { // in init: the commands' run funcs refer back to this table for their usage
	commands = []command{
		{"status", "-control PATH [-json]", "show the serving process: pid, generation, state, listeners, draining generations",
			"  0  the status\n  1  the server cannot be asked; the message says why\n" + exitsCommon, runStatus},
		{"upgrade", "-control PATH [-timeout D] [-wait D] [-at-ready]", "start the next generation and wait until it has passed probation (exit 0), failed (exit 1) or rolled back (exit 5)",
			"  0  the new process serves (and passed probation, unless -at-ready)\n  1  the upgrade failed or was refused: the old process keeps serving\n" + exitsCommon +
				"\n  5  rolled back: the new process became ready, then died on probation;\n     the old process serves again", runUpgrade},
		{"stop", "-control PATH [-timeout D]", "stop the serving generation and wait until every generation is gone (exit 0) or the timeout (exit 1)",
			"  0  every generation is gone, or nothing served: no file at PATH, or a stale\n     socket left by a server that died\n" +
				"  1  a generation still runs at the timeout; or PATH is no socket (a regular\n     file, a directory), not allowed, or too long\n" + exitsCommon, runStop},
		{"run", "[flags] -listen NAME=NETWORK://ADDR ... -- PROGRAM [ARGS...]", "supervise PROGRAM in any language: it gets the sockets as LISTEN_FDS and says READY=1; upgrades replace it with no downtime",
			"  0  stopped cleanly\n  1  failed; the message says why\n  2  usage error", runRun},
		{"version", "", "print the version of handoff and of the Go toolchain that built it", "", runVersion},
	}
}

// errUsage marks errors that are the caller's words, not the server's.
var errUsage = errors.New("usage")

// errRolledBack marks an upgrade that rolled back (exitRolledBack).
var errRolledBack = errors.New("rolled back")

// usageError is a mistake in a command's arguments, with the command's
// flags to print its usage with.
type usageError struct {
	err error // wraps errUsage
	fs  *flag.FlagSet
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func main() {
	if len(os.Args) > 1 && os.Args[1] == shimCommand { // a child of `handoff run`, about to exec
		os.Exit(runShim(os.Args[2:]))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	if isHelp(args[0]) || args[0] == "help" {
		return help(args, stdout, stderr)
	}
	cmd, ok := find(args[0])
	if !ok {
		fmt.Fprintf(stderr, "handoff: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	err := cmd.run(args[1:], stdout)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	fmt.Fprintf(stderr, "handoff %s: %v\n", cmd.name, err)
	switch {
	case errors.Is(err, errUsage):
		if ue, ok := errors.AsType[*usageError](err); ok {
			fmt.Fprintln(stderr)
			ue.fs.SetOutput(stderr)
			ue.fs.Usage()
		} else {
			fmt.Fprintf(stderr, "usage: handoff %s %s (handoff %s -h lists the flags)\n", cmd.name, cmd.args, cmd.name)
		}
		return exitUsage
	case errors.Is(err, control.ErrNoAnswer):
		return exitNoAnswer
	case errors.Is(err, control.ErrOutcomeUnknown):
		return exitUnknown
	case errors.Is(err, errRolledBack):
		return exitRolledBack
	}
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
		fmt.Fprintf(w, "  %s\n      %s\n", strings.TrimSpace(fmt.Sprintf("handoff %-8s %s", c.name, c.args)), c.summary)
	}
	fmt.Fprintln(w, "  handoff help [COMMAND]\n\n`handoff COMMAND -h` lists a command's flags with their defaults, and its exit statuses.")
	fmt.Fprintln(w, "PATH defaults to $HANDOFF_CONTROL. Exit status: 0 done, 1 failed, 2 usage,")
	fmt.Fprintln(w, "3 no answer (the request was withdrawn; nothing was done), 4 the outcome is unknown.")
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

// newFlags makes a command's flag set. Its Usage prints the command's
// usage, flags with their defaults, and exit statuses, to the set's
// output.
func newFlags(name string) *flag.FlagSet {
	cmd, _ := find(name)
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: handoff %s %s\n  %s\n\nflags:\n", name, cmd.args, cmd.summary)
		fs.PrintDefaults()
		if cmd.exits != "" {
			fmt.Fprintf(w, "\nexit status:\n%s\n", cmd.exits)
		}
	}
	return fs
}

// controlFlag adds -control, defaulting to $HANDOFF_CONTROL.
func controlFlag(fs *flag.FlagSet) *string {
	return fs.String("control", os.Getenv("HANDOFF_CONTROL"), "control socket `PATH` of the server; defaults to $HANDOFF_CONTROL")
}

// parseFlags parses args. -h prints the usage to stdout and returns
// flag.ErrHelp; a bad flag is a *usageError, which run reports once.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	usage := fs.Usage
	fs.Usage = func() {} // flag calls it on every error; run prints it, once
	err := fs.Parse(args)
	fs.Usage = usage
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return flag.ErrHelp
	}
	if err != nil {
		return badUsage(fs, "%v", err)
	}
	return nil
}

// badUsage is a usage error about a command whose flags are fs.
func badUsage(fs *flag.FlagSet, format string, args ...any) error {
	return &usageError{err: fmt.Errorf("%w: "+format, append([]any{errUsage}, args...)...), fs: fs}
}

// clientFlags is the flag set of a command that asks a server: it parses
// args and returns the client of the control socket named.
type clientFlags struct {
	*flag.FlagSet
	control *string
}

func newClientFlags(name string) clientFlags {
	fs := newFlags(name)
	return clientFlags{fs, controlFlag(fs)}
}

// parse parses args and checks that a control path was given.
func (f clientFlags) parse(args []string, stdout io.Writer) (control.Client, error) {
	if err := parseFlags(f.FlagSet, args, stdout); err != nil {
		return control.Client{}, err
	}
	if f.NArg() > 0 {
		return control.Client{}, badUsage(f.FlagSet, "unexpected argument %q", f.Arg(0))
	}
	if *f.control == "" {
		return control.Client{}, badUsage(f.FlagSet, "no control socket: give -control PATH or set HANDOFF_CONTROL")
	}
	return control.Client{Path: *f.control}, nil
}
