package upgrader

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/handoff-go/handoff/control"
	"github.com/handoff-go/handoff/internal/pidfile"
	"github.com/handoff-go/handoff/internal/runhooks"
	"github.com/handoff-go/handoff/listeners"
)

// Defaults for zero Options fields.
const (
	DefaultUpgradeTimeout = 30 * time.Second
	DefaultMaxDraining    = 3
	// DefaultProbation is how long an old generation keeps its sockets
	// after its successor is ready, ready to serve again if the successor
	// dies: long enough for a build that fails on its first real requests
	// (a panic in a handler, a lazily read config) to show it under any
	// traffic, short enough that two processes overlap only briefly and an
	// upgrade's caller hears the outcome in seconds.
	DefaultProbation = 5 * time.Second
	// NoProbation, as Options.Probation, turns probation off: the old
	// generation drains as soon as its successor is ready.
	NoProbation time.Duration = -1
)

// Options configure an Upgrader. The zero value works.
type Options struct {
	// UpgradeTimeout bounds an upgrade from the start of the next process
	// until it is ready. Default DefaultUpgradeTimeout.
	UpgradeTimeout time.Duration
	// PIDFile, if set, is written atomically with this process's pid once
	// it is ready, so that it always names the process that serves.
	PIDFile string
	// ControlPath, if set, is the Unix socket where this process answers
	// `handoff status`, `handoff upgrade` and takeovers (see package
	// control). A new process started with the same path takes over from
	// the live one. Its directory should be private to the service's user.
	ControlPath string
	// Command builds the command that starts the next generation. Default:
	// the executable this process was started from (as it was at New), with
	// the same arguments and environment, sharing stdout and stderr.
	Command func() (*exec.Cmd, error)
	// MaxDraining is how many older generations may still be draining when
	// an upgrade starts. Default DefaultMaxDraining.
	MaxDraining int
	// Logger receives one line per lifecycle event. Default: silent.
	Logger *slog.Logger
	// DisableConnMoves stops idle connections moving between this
	// generation and its neighbours (see ConnMover): as the new side it
	// does not offer to take them, as the old side it sends none.
	DisableConnMoves bool
	// Probation is how long, after the next generation is ready, this
	// generation keeps its sockets and its connections without accepting,
	// and watches the next one: if that one dies or gives the service back
	// (GiveBack) in time, this one accepts again and serves (the upgrade
	// rolled back); otherwise it drains. Default DefaultProbation;
	// NoProbation (any negative value) turns it off.
	Probation time.Duration

	hooks runhooks.Hooks // `handoff run`'s, set through runhooks.Install
}

func init() {
	runhooks.Install = func(opts any, h runhooks.Hooks) { opts.(*Options).hooks = h }
}

// Mode says how a process came to life.
type Mode string

// The modes.
const (
	ModeCold     Mode = "cold"     // nothing inherited from a previous generation
	ModeChild    Mode = "child"    // started by the previous generation
	ModeTakeover Mode = "takeover" // started by someone else, took over a live one
)

// Upgrader manages the lifecycle of one process generation. Create it with
// New; it is safe for concurrent use.
type Upgrader struct {
	opts      Options
	log       *slog.Logger
	set       *listeners.Set
	exe       string
	pid       int
	self      control.Peer // this generation
	mode      Mode
	prev      *prevGen       // the predecessor; nil after a cold start
	inherited int            // members received from the predecessor or systemd
	fdStore   fdStore        // systemd's, when the unit has one (fdstore.go)
	ctl       *controlServer // nil without Options.ControlPath
	pidFile   *pidfile.Draft // nil without Options.PIDFile; Ready commits it
	mv        moves          // connections moving in or out (conns.go)
	exit      chan struct{}  // closed by closeExitLocked alone
	stopped   chan struct{}  // closed by Stop

	mu sync.Mutex
	lc lifecycle // guarded by mu; changed only in lifecycle.go
}

// New prepares this process's generation. It inherits the listener set
// from the previous generation when there is one (child or takeover mode)
// or from systemd socket activation, and returns once the set has arrived.
// The caller must call Ready once it serves, and Stop when it is done.
func New(opts Options) (*Upgrader, error) {
	opts = withDefaults(opts)
	if err := checkControlPath(opts.ControlPath); err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil && opts.Command == nil {
		return nil, fmt.Errorf("upgrader: find own executable: %w", err)
	}
	u := &Upgrader{opts: opts, log: opts.Logger, set: listeners.New(), exe: exe, pid: os.Getpid(),
		exit: make(chan struct{}), stopped: make(chan struct{})}
	u.self, _ = observe(u.pid)
	u.self.PID, u.self.Generation = u.pid, 1
	// Written while the set arrives; Ready only renames it into place.
	u.pidFile = pidfile.Start(opts.PIDFile, u.pid)
	if err := u.findPrev(); err != nil {
		u.set.Close(false)
		u.pidFile.Discard()
		return nil, err
	}
	u.log = u.log.With("pid", u.pid, "generation", u.self.Generation)
	u.fdStore = newFDStore(u.set)
	u.lc = newLifecycle(u.mode == ModeCold, u.prev)
	if opts.ControlPath != "" {
		if u.ctl, err = u.openControl(opts.ControlPath); err != nil {
			u.prev.close()
			u.set.Close(false)
			u.pidFile.Discard()
			return nil, err
		}
	}
	u.log.Info("upgrader started", "mode", u.mode, "inherited", u.inherited)
	return u, nil
}

func withDefaults(o Options) Options {
	if o.UpgradeTimeout <= 0 {
		o.UpgradeTimeout = DefaultUpgradeTimeout
	}
	if o.MaxDraining <= 0 {
		o.MaxDraining = DefaultMaxDraining
	}
	if o.Probation == 0 {
		o.Probation = DefaultProbation
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

// Listen returns a stream listener ("tcp", "tcp4", "tcp6", "unix") named
// name, inherited from the previous generation when it had one by that name
// (or bound to that address), else newly bound. The caller owns the
// listener: closing it stops this process accepting and nothing more; the
// socket itself lives on in the set until it is handed over or Stop.
// Unless Options.DisableConnMoves is set, its Accept also returns the idle
// connections the previous generation moves here (see ConnMover), and
// after Close it still returns those already on their way.
func (u *Upgrader) Listen(name, network, addr string) (net.Listener, error) {
	ln, err := u.set.Listen(name, network, addr)
	return u.withInbox(name, ln, err)
}

// ListenPacket is Listen for datagram sockets ("udp", "udp4", "udp6",
// "unixgram").
//
// On probation (see Options.Probation) its reads wait while the next
// generation reads the socket, and go on if that one fails; writes never
// wait.
func (u *Upgrader) ListenPacket(name, network, addr string) (net.PacketConn, error) {
	pc, err := u.set.ListenPacket(name, network, addr)
	if err != nil {
		return nil, err
	}
	g := newGatedPacketConn(pc)
	u.mv.mu.Lock()
	u.mv.packets = append(u.mv.packets, g)
	u.mv.mu.Unlock()
	return g, nil
}

// File returns the file named name, inherited or else opened by open; see
// listeners.Set.File.
func (u *Upgrader) File(name string, open func() (*os.File, error)) (*os.File, error) {
	return u.set.File(name, open)
}

// Listeners lists the members of the set.
func (u *Upgrader) Listeners() []listeners.Info { return u.set.List() }

// Mode says how this process came to life.
func (u *Upgrader) Mode() Mode { return u.mode }

// Generation is 1 for a cold start and one more than the previous
// generation's after a handoff.
func (u *Upgrader) Generation() uint64 { return u.self.Generation }

// Exit is closed when this process must stop serving: it has handed its
// sockets to the next generation, a control client asked it to stop, its
// Ready was refused, or Stop was called (ExitReason says which). Close the
// listeners, finish what is in flight, then return from main.
func (u *Upgrader) Exit() <-chan struct{} { return u.exit }

// ExitReason says why Exit closed. Later versions may add reasons; a
// server that does not know a reason should treat it as a stop.
type ExitReason string

// The reasons, each for the first event that closed Exit: a Stop after a
// handover still reports ExitHandedOver.
const (
	ExitHandedOver    ExitReason = "handed-over"    // a successor serves the sockets now
	ExitStopRequested ExitReason = "stop-requested" // a control client (handoff stop) asked this process to stop
	ExitStopped       ExitReason = "stopped"        // Stop was called
	ExitReadyRefused  ExitReason = "ready-refused"  // the predecessor refused this process's Ready and serves on
	ExitGaveBack      ExitReason = "gave-back"      // GiveBack handed the service back to the predecessor on probation
)

// ExitReason reports why Exit closed, or "" while it is open. Once Exit
// is closed the reason never changes.
func (u *Upgrader) ExitReason() ExitReason {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.lc.exit
}

// Ready says this process serves. It finishes the handoff from the previous
// generation (which then stops accepting and drains), closes inherited
// sockets nobody claimed, starts the control socket, and only then stores
// the listeners in systemd's fd store (when the unit has one), notifies
// systemd and writes the pid file. If the previous generation refuses
// (it timed out waiting), Ready returns the reason and this process should
// drain what it accepted and exit (Exit is closed). An error wrapping
// ErrPIDFile means the pid file could not be written: by then this
// process owns the set and serves, and must carry on.
func (u *Upgrader) Ready() error { return u.ready() }

// Upgrade starts the next generation and hands the listener set to it. It
// returns nil once the next generation is ready and has passed probation
// (this process's Exit is closed by then), or an error saying why not, in
// which case this process keeps serving: a *RollbackError (wrapping
// ErrRolledBack) when the next generation was ready, then died or gave
// the service back on probation. Only one upgrade runs at a time; asked
// of a generation that is itself on probation, Upgrade waits for the
// verdict first.
func (u *Upgrader) Upgrade(ctx context.Context) error {
	_, err := u.upgrade(ctx, reporter{})
	return err
}

// Stop ends this generation: Exit is closed, a running upgrade is
// cancelled, and the upgrader lets go of its sockets. Unless the set was
// handed over, this is the last owner: Unix socket files and the pid file
// are removed and systemd is told STOPPING. Call it after draining; it is
// safe to call more than once.
func (u *Upgrader) Stop() {
	u.mu.Lock()
	running := u.beginStopLocked()
	onTrial := u.endTrialLocked()
	asked := u.lc.exit == ExitStopRequested
	u.mu.Unlock()
	if onTrial {
		u.endTrial(asked)
	}
	if running != nil {
		<-running // the upgrade must not hand over a set we are closing
	}
	u.mu.Lock()
	next, final, already := u.stopLocked()
	u.mu.Unlock()
	if already {
		return
	}
	close(u.stopped)
	u.ctl.close()
	if next != nil {
		next.Close()
	}
	u.prev.close()
	u.set.Close(final)
	u.pidFile.Discard() // if Ready never committed it
	if final {
		notify("STOPPING=1")
		pidfile.Remove(u.opts.PIDFile, u.pid)
	}
	u.log.Info("stopped", "final", final)
}
