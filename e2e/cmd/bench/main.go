//go:build linux

// Command bench compares handoff's demo server with the same server on
// cloudflare/tableflip, in sections: requests lost per upgrade, throughput
// and p99 while upgrading, upgrade time by listener count, how soon the
// old process is gone, idle connections through upgrades, steady-state
// throughput, HTTP/3 (handoff only) and deploying a build that dies after
// it is ready. It builds the servers and runs them on loopback under the
// same load and upgrade schedule, in rounds that alternate which server
// goes first (README.md says how). Every figure goes to a JSON file
// (-json, or bench-<UTC time>.json here); the Markdown on stdout is
// rendered from that file once written (progress goes to stderr).
//
//	go run ./e2e/cmd/bench [-quick] [-only SECTION,...] [-json FILE] [-out FILE] [-upgrades 100] [-clients 32] [-wrk PATH] [-logs DIR]
//	go run ./e2e/cmd/bench -render FILE [-out FILE]
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/handoff-go/handoff/e2e/internal/harness"
	"github.com/handoff-go/handoff/e2e/internal/proc"
)

// errOutOfTime marks a run skipped because the whole bench's budget is
// spent.
var errOutOfTime = errors.New("skipped: the bench's time budget is spent")

// options are the run's sizes.
type options struct {
	upgrades  int           // per mode per server, section lost
	clients   int           // load clients (and wrk connections)
	quick     bool          // smoke run
	out       string        // also write the report here
	wrk       string        // wrk binary; empty when not installed
	logs      string        // keep server logs in this directory
	window    time.Duration // section throughput's idle and busy windows
	listeners []int         // section upgrade-time's listener counts
	timeK     int           // section upgrade-time's upgrades per count
	goneN     int           // section old-gone's upgrades
	budget    time.Duration // the whole run, after the build (section badbuild adds its own)
	badRounds int           // section badbuild's rounds per server
	json      string        // write the figures here; empty: defaultJSONPath
	only      string        // run only these sections (comma-separated names)
	render    string        // render this JSON file and run nothing
}

func parseOptions() options {
	o := options{}
	flag.IntVar(&o.upgrades, "upgrades", 100, "upgrades per client mode per server")
	flag.IntVar(&o.clients, "clients", 32, "concurrent clients (and wrk connections)")
	flag.BoolVar(&o.quick, "quick", false, "a smoke run that finishes in about a minute and a half")
	flag.StringVar(&o.out, "out", "", "also write the Markdown report to this file")
	flag.StringVar(&o.wrk, "wrk", "", "path to wrk (default: looked up in PATH)")
	flag.StringVar(&o.logs, "logs", "", "keep a copy of every server's log in this existing directory")
	flag.StringVar(&o.json, "json", "", "write the figures as JSON to this file (default bench-<UTC yyyymmdd-hhmmss>.json)")
	flag.StringVar(&o.only, "only", "", "run only these sections, comma-separated: "+strings.Join(sectionNames(), ", "))
	flag.StringVar(&o.render, "render", "", "render the Markdown of this saved JSON file; run nothing")
	flag.Parse()
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o.window, o.listeners, o.timeK, o.goneN, o.budget = 5*time.Second, []int{1, 1000, 5000}, 10, 20, 12*time.Minute
	o.badRounds = 10
	if o.quick {
		o.window, o.listeners, o.timeK, o.goneN, o.budget = 2*time.Second, []int{1, 1000}, 3, 5, 70*time.Second
		o.badRounds = 3
		if !set["upgrades"] {
			o.upgrades = 10
		}
	}
	if o.wrk == "" {
		o.wrk, _ = exec.LookPath("wrk")
	}
	return o
}

func main() {
	o := parseOptions()
	if o.upgrades < 1 || o.clients < 1 {
		fmt.Fprintln(os.Stderr, "bench: -upgrades and -clients must be at least 1")
		os.Exit(2)
	}
	if _, err := chooseSections(o.only); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if o.render != "" {
		if err := renderSaved(o.render, o.out); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	chosen, err := chooseSections(o.only)
	if err != nil {
		return err
	}
	if err := raiseFileLimit(); err != nil {
		return err
	}
	if err := harness.CloseInheritedOnExec(); err != nil { // the servers get their own fds only
		return err
	}
	b := newBench(o.wrk, o.logs)
	defer b.cleanup()
	stopInterrupts := cleanupOnInterrupt(b)
	defer stopInterrupts()
	bad := slices.Contains(chosen, "badbuild")
	progress("building demo, tfdemo and plaindemo")
	if err := b.build(bad); err != nil {
		return err
	}
	// Only now: the reaper would steal `go build`'s exit status.
	r, err := proc.StartReaper()
	if err != nil {
		return err
	}
	defer r.Stop()
	budget := o.budget
	if bad {
		budget += badBuildBudget(o)
	}
	b.start(r, time.Now().Add(budget))

	rep := b.measure(o, chosen)
	path := o.json
	if path == "" {
		path = defaultJSONPath(rep.Header.Date)
	}
	if err := writeReport(path, rep); err != nil {
		return err
	}
	progress("figures written to %s", path)
	return renderSaved(path, o.out)
}

// measure runs the chosen sections in their order and cleans up after
// them: the report's header counts what was left.
func (b *bench) measure(o options, chosen []string) report {
	start := time.Now()
	rep := report{Header: newHeader(o, chosen)}
	for _, s := range sections {
		if slices.Contains(chosen, s.name) {
			progress("section %s", s.name)
			s.run(b, o, &rep)
		}
	}
	b.cleanup()
	h := &rep.Header
	h.Elapsed, h.LoadAfter = time.Since(start), loadAverage()
	h.Leftovers, h.ProcessGroups = append([]int{}, b.leftovers()...), b.groupCount()
	return rep
}

// renderSaved prints the Markdown of the JSON file at path, and writes it
// to out too if set. The report is always read back from the file, so
// that nothing reaches the Markdown that the file does not hold.
func renderSaved(path, out string) error {
	rep, err := readReport(path)
	if err != nil {
		return err
	}
	return emit(rep.markdown(), out)
}

// raiseFileLimit lifts the soft RLIMIT_NOFILE to the hard one: 5,000
// listeners over two generations need some 10,000 fds, and the servers
// inherit the limit.
func raiseFileLimit() error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	lim.Cur = lim.Max
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise RLIMIT_NOFILE to %d: %w", lim.Max, err)
	}
	return nil
}

// cleanupOnInterrupt kills every process and removes every temp dir on
// SIGINT or SIGTERM, then exits.
func cleanupOnInterrupt(b *bench) (stop func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			fmt.Fprintf(os.Stderr, "bench: %v: stopping every server\n", sig)
			b.cleanup()
			os.Exit(130)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}

// emit prints the report and writes it to path too, if set.
func emit(report, path string) error {
	fmt.Print(report)
	if path == "" {
		return nil
	}
	if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// progress reports to stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
