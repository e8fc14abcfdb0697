// Package peer is what the servers the bench compares with examples/demo
// (e2e/cmd/tfdemo, e2e/cmd/plaindemo) share besides the demo's handler
// (examples/demo/demoapp): the flags the bench passes every server, the
// pid file by which it finds the one serving, and the demo's bad-build
// knob.
package peer

import (
	"flag"
	"log/slog"
	"os"
	"strconv"
	"time"
)

// Flags are what the bench tells every server it compares.
type Flags struct {
	Listen         string
	PIDFile        string
	ExtraListeners int
}

// Register defines -listen (listen by default), -pid-file and
// -extra-listeners on fs.
func (f *Flags) Register(fs *flag.FlagSet, listen string) {
	fs.StringVar(&f.Listen, "listen", listen, "TCP address to serve HTTP on")
	fs.StringVar(&f.PIDFile, "pid-file", "", "write the serving process's pid here")
	fs.IntVar(&f.ExtraListeners, "extra-listeners", 0, "idle listeners to hold besides, on 127.0.0.1 (plaindemo holds none)")
}

// WritePIDFile writes this process's pid to path, atomically: a reader
// sees no file or the whole pid.
func WritePIDFile(path string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// CrashAfterReady makes a bad build for rollback benchmarks: when after
// (a build's -X main.crashAfterReady, as examples/demo has it) parses as a
// duration, the process exits with status 3 that long after it calls
// this, once ready. Anything else, the empty default included, does
// nothing.
func CrashAfterReady(after string, log *slog.Logger) {
	d, err := time.ParseDuration(after)
	if err != nil {
		return
	}
	time.AfterFunc(d, func() {
		log.Error("crashing on purpose (a bad build: -X main.crashAfterReady)", "after", d.String())
		os.Exit(3)
	})
}
