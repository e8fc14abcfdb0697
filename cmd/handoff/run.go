//go:build linux

// `handoff run` is a supervisor for servers that do not embed the
// upgrader. It holds the sockets through an upgrader of its own (so it has
// a control socket, systemd notifications, socket activation and its own
// upgrade by takeover), and makes an upgrade mean "replace my child"
// through the upgrader's Replace hook (internal/runhooks). The parts, by file:
//
//	run.go             flags and -listen, checked before anything starts
//	run_supervisor_*   the lifecycle: first child, serve, replace, stop
//	run_spawn_*        starting a child through the shim, readiness
//	run_probation_*    watching a ready child before the old one drains; rollback
//	run_child_*        one child: its state, signals
//	run_tree_*         its generation (all it started): reaping, tracking, drain, kill
//	run_cgroup_*       a cgroup v2 group per generation
//	run_ratelog_*      the children's STATUS= lines, rate-limited in the log
//	run_notify_*       the children's NOTIFY_SOCKET
//	run_sockets_*      the sockets every child gets as fds 3 onward
//	run_status.go      the children in `handoff status`
//	run_shim*.go       the re-exec that sets LISTEN_PID and execs PROGRAM

package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/handoff-go/handoff/internal/runhooks"
	"github.com/handoff-go/handoff/upgrader"
)

// runConfig is what `handoff run` was asked to do.
type runConfig struct {
	listen         []listenSpec
	control        string
	pidFile        string
	readyAfter     time.Duration
	settle         time.Duration
	probation      time.Duration
	stopSignal     syscall.Signal
	drainTimeout   time.Duration
	upgradeTimeout time.Duration
	maxDraining    int
	cgroup         bool
	program        string
	args           []string
}

// listenSpec is one -listen NAME=NETWORK://ADDR.
type listenSpec struct {
	name, network, addr string
}

func runRun(args []string, stdout io.Writer) error {
	cfg, err := parseRun(args, stdout)
	if err != nil {
		return err
	}
	return supervise(cfg)
}

// parseRun checks everything that can be checked before anything starts.
func parseRun(args []string, stdout io.Writer) (runConfig, error) {
	fs := newFlags("run")
	control := controlFlag(fs)
	var cfg runConfig
	fs.Func("listen", "a socket for PROGRAM, `NAME=NETWORK://ADDR` (tcp, tcp4, tcp6, unix, unixgram, udp, udp4, udp6); repeat for more", func(s string) error {
		spec, err := parseListen(s)
		if err != nil {
			return err
		}
		for _, l := range cfg.listen {
			if l.name == spec.name {
				return fmt.Errorf("name %q given twice", spec.name)
			}
		}
		cfg.listen = append(cfg.listen, spec)
		return nil
	})
	fs.StringVar(&cfg.pidFile, "pid-file", "", "write the supervisor's pid to `PATH` once the first child is ready")
	fs.DurationVar(&cfg.readyAfter, "ready-after", 0, "count a child as ready `D` after it started, for programs that cannot send READY=1 (0: wait for READY=1)")
	fs.DurationVar(&cfg.settle, "settle", 100*time.Millisecond, "after a new child is ready, wait `D` and check it still runs before the old one is stopped")
	fs.DurationVar(&cfg.probation, "probation", upgrader.DefaultProbation, "after a new child is ready, keep the old one serving for `D` and roll back if the new one dies meanwhile (0: no probation)")
	stopSig := fs.String("stop-signal", "TERM", "the `SIGNAL` that asks a child to drain and exit")
	fs.DurationVar(&cfg.drainTimeout, "drain-timeout", 30*time.Second, "let a stopped child drain for up to `D`, then kill it")
	fs.DurationVar(&cfg.upgradeTimeout, "upgrade-timeout", upgrader.DefaultUpgradeTimeout, "give a new child `D` to become ready, else kill it and keep the old one")
	fs.IntVar(&cfg.maxDraining, "max-draining", upgrader.DefaultMaxDraining, "refuse an upgrade while `N` older children still drain")
	fs.BoolVar(&cfg.cgroup, "cgroup", true, "put each child and all it starts in a cgroup of their own, where the supervisor may make one (false: follow them through /proc)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return cfg, err
	}
	cfg.control = *control
	sig, err := parseSignal(*stopSig)
	if err != nil {
		return cfg, badUsage(fs, "-stop-signal: %v", err)
	}
	cfg.stopSignal = sig
	if fs.NArg() == 0 {
		return cfg, badUsage(fs, "no PROGRAM to run: put it after the flags (handoff run -listen ... -- PROGRAM ARGS)")
	}
	cfg.program, cfg.args = fs.Arg(0), fs.Args()[1:]
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"drain-timeout", cfg.drainTimeout}, {"upgrade-timeout", cfg.upgradeTimeout}} {
		if d.v <= 0 {
			return cfg, badUsage(fs, "-%s must be positive, not %v", d.name, d.v)
		}
	}
	if cfg.readyAfter < 0 || cfg.settle < 0 || cfg.probation < 0 || cfg.maxDraining < 1 {
		return cfg, badUsage(fs, "-ready-after, -settle and -probation must not be negative, -max-draining at least 1")
	}
	return cfg, nil
}

// parseListen parses NAME=NETWORK://ADDR.
func parseListen(s string) (listenSpec, error) {
	name, rest, ok := strings.Cut(s, "=")
	if !ok {
		return listenSpec{}, fmt.Errorf("%q is not NAME=NETWORK://ADDR", s)
	}
	if err := checkFDName(name); err != nil {
		return listenSpec{}, fmt.Errorf("%q: %v", s, err)
	}
	network, addr, ok := strings.Cut(rest, "://")
	if !ok || addr == "" {
		return listenSpec{}, fmt.Errorf("%q: want NETWORK://ADDR after the name, e.g. tcp://127.0.0.1:8080 or unix:///run/app.sock", s)
	}
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
		if _, _, err := splitHostPort(addr); err != nil {
			return listenSpec{}, fmt.Errorf("%q: %v", s, err)
		}
	case "unix", "unixgram":
	default:
		return listenSpec{}, fmt.Errorf("%q: unknown network %q (want tcp, tcp4, tcp6, unix, unixgram, udp, udp4 or udp6)", s, network)
	}
	return listenSpec{name: name, network: network, addr: addr}, nil
}

func splitHostPort(addr string) (string, int, error) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", 0, fmt.Errorf("address %q lacks a port", addr)
	}
	port, err := strconv.Atoi(addr[i+1:])
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("address %q: bad port %q", addr, addr[i+1:])
	}
	return addr[:i], port, nil
}

// checkFDName applies systemd's rules for LISTEN_FDNAMES entries: at most
// 255 printable ASCII characters, no colon (the separator).
func checkFDName(name string) error {
	if name == "" || len(name) > 255 {
		return fmt.Errorf("name must be 1 to 255 characters")
	}
	for _, r := range name {
		if r <= ' ' || r > '~' || r == ':' {
			return fmt.Errorf("name %q: only printable ASCII without spaces or ':'", name)
		}
	}
	if name == runhooks.ControlName {
		return fmt.Errorf("name %q is the supervisor's own control socket", name)
	}
	return nil
}

var signalNames = map[string]syscall.Signal{
	"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "HUP": syscall.SIGHUP,
	"USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "KILL": syscall.SIGKILL,
}

// parseSignal accepts TERM, SIGTERM or a number.
func parseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	if sig, ok := signalNames[strings.TrimPrefix(strings.ToUpper(s), "SIG")]; ok {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q (want TERM, INT, QUIT, HUP, USR1, USR2 or a number)", s)
}

// exitStatus says how a child ended, as os.ProcessState would.
func exitStatus(ws syscall.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		return "signal: " + ws.Signal().String()
	}
	return fmt.Sprintf("wait status %#x", uint32(ws))
}
