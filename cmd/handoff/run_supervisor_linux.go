package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/handoff-go/handoff/control"
	"github.com/handoff-go/handoff/internal/runhooks"
	"github.com/handoff-go/handoff/internal/sdnotify"
	"github.com/handoff-go/handoff/internal/wire"
	"github.com/handoff-go/handoff/upgrader"
)

// supervisor is `handoff run`: it holds the sockets (through an embedded
// upgrader, which also gives it a control socket, systemd notifications
// and its own upgrade by takeover) and replaces its child on upgrade.
type supervisor struct {
	cfg     runConfig
	base    *slog.Logger // for the upgrader, which adds pid and generation
	log     *slog.Logger
	u       *upgrader.Upgrader
	socks   []childSocket
	notify  *notifySocket
	devNull *os.File
	env     []string // the children's environment, but for LISTEN_PID

	self     int
	cgroups  *cgroupParent // where each generation gets a cgroup; nil: none
	tracking string        // how generations are tracked, for the status
	procMu   sync.Mutex    // held to reap an orphan, and to signal one
	kick     chan struct{} // a child started: the reaper has work again
	quit     chan struct{} // closed at tearDown

	mu          sync.Mutex
	children    map[int]*child  // every child not yet reaped, by pid
	gens        map[*child]bool // every generation not yet gone, by its child
	serving     *child
	probing     *child      // a new child on probation, while serving serves on
	generations int         // cgroups made, for their names
	lost        chan *child // the serving child exited unasked
}

func supervise(cfg runConfig) error {
	base := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "handoff-run")
	stops := make(chan os.Signal, 1)
	signal.Notify(stops, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(stops)
	if _, err := lookProgram(cfg.program); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	s := &supervisor{cfg: cfg, base: base, log: base.With("pid", os.Getpid()), self: os.Getpid(),
		children: map[int]*child{}, gens: map[*child]bool{}, lost: make(chan *child, 1),
		kick: make(chan struct{}, 1), quit: make(chan struct{})}
	if err := s.setUp(); err != nil {
		return err
	}
	defer s.tearDown()
	hup := s.u.UpgradeOnSignal(syscall.SIGHUP)
	defer hup()
	stopped, err := s.startFirst(stops)
	switch {
	case err != nil:
		return err
	case stopped:
		return s.stop()
	}
	return s.serve(stops)
}

// setUp opens everything before the first child starts; on error nothing
// is left open.
func (s *supervisor) setUp() error {
	opts := upgrader.Options{
		ControlPath: s.cfg.control, PIDFile: s.cfg.pidFile, UpgradeTimeout: s.cfg.upgradeTimeout,
		MaxDraining: s.cfg.maxDraining, Logger: s.base,
		// The children serve the sockets; no connection could be moved to
		// the supervisor itself.
		DisableConnMoves: true,
	}
	runhooks.Install(&opts, runhooks.Hooks{Replace: s.replace, StatusDetail: s.detail})
	u, err := upgrader.New(opts)
	if err != nil {
		return err
	}
	s.u = u
	if s.socks, err = openSockets(u, s.cfg.listen); err == nil {
		if s.notify, err = openNotifySocket(); err == nil {
			s.devNull, err = os.Open(os.DevNull)
		}
	}
	if err != nil {
		s.tearDown()
		return err
	}
	s.env = childEnv(s.socks, s.notify.path)
	go s.notify.serve(s.handleNotice)
	s.track()
	s.log.Info("sockets open", "fds", strings.Join(socketNames(s.socks), ":"), "mode", u.Mode(), "tracking", s.tracking)
	return nil
}

// track sets up how the supervisor follows its generations: a subreaper
// always, a cgroup per generation where it can make them.
func (s *supervisor) track() {
	if err := becomeSubreaper(); err != nil {
		s.log.Warn("not a child subreaper: what a child leaves behind goes to init", "err", err)
	}
	cg, err := ownCgroup()
	if !s.cfg.cgroup {
		cg, err = nil, errors.New("-cgroup=false")
	}
	if err == nil {
		cg.removeStale()
		s.cgroups, s.tracking = cg, "cgroup "+cg.dir
	} else {
		s.tracking = "subreaper and /proc (" + err.Error() + ")"
	}
	go s.reapLoop()
	go s.scanLoop()
}

func (s *supervisor) tearDown() {
	close(s.quit)
	if s.u != nil {
		s.u.Stop()
	}
	closeSockets(s.socks)
	if s.notify != nil {
		s.notify.close()
	}
	if s.devNull != nil {
		s.devNull.Close()
	}
}

// startFirst starts the first child and, once it is ready, tells the
// upgrader (pid file, READY=1, or the end of a previous supervisor's
// handover). stopped reports a stop signal that came meanwhile.
func (s *supervisor) startFirst(stops <-chan os.Signal) (stopped bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.upgradeTimeout)
	defer cancel()
	watched := make(chan bool, 1)
	go func() {
		select {
		case sig := <-stops:
			s.log.Info("stop requested before the first child was ready", "signal", sig.String())
			cancel()
			watched <- true
		case <-ctx.Done():
			watched <- false
		}
	}()
	c, err := s.startReady(ctx, func(string, int, string) {})
	cancel()
	stopped = <-watched
	switch {
	case err != nil && stopped:
		return true, nil
	case err != nil:
		return false, fmt.Errorf("first child: %w", err)
	}
	s.promote(c)
	if stopped {
		return true, nil
	}
	if err := s.u.Ready(); err != nil {
		return false, errors.Join(fmt.Errorf("supervisor not ready: %w", err), s.stopAll())
	}
	return false, nil
}

// serve waits for the end: a stop signal, a new supervisor taking over,
// or the serving child dying with no replacement in sight.
func (s *supervisor) serve(stops <-chan os.Signal) error {
	for {
		select {
		case sig := <-stops:
			s.log.Info("stopping", "signal", sig.String())
			return s.stop()
		case <-s.u.Exit():
			s.log.Info("stopping", "reason", s.u.ExitReason())
			return s.stop()
		case c := <-s.lost:
			if s.hasServing() || s.onProbation() {
				continue // an upgrade replaced it just as it died, or will
			}
			err := fmt.Errorf("serving child %d exited on its own (%s)", c.pid, exitStatus(c.status))
			s.log.Error("serving child lost; stopping", "child", c.pid, "how", exitStatus(c.status))
			return errors.Join(err, s.stop())
		}
	}
}

// stop ends upgrades (a running one is cancelled and undone), then stops
// the children.
func (s *supervisor) stop() error {
	s.u.Stop()
	return s.stopAll()
}

func (s *supervisor) hasServing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serving != nil
}

// stopAll asks every generation to drain (the serving one and any whose
// child died), lets draining ones go on, and waits until nothing of any
// is left. It fails if something had to be killed.
func (s *supervisor) stopAll() error {
	s.mu.Lock()
	if c := s.serving; c != nil {
		s.serving = nil
		s.log.Info("child stopping", "child", c.pid, "signal", s.cfg.stopSignal.String())
	}
	var all []*child
	for c := range s.gens {
		all = append(all, c)
	}
	s.mu.Unlock()
	for _, c := range all {
		s.drain(c)
	}
	var killed []int
	for _, c := range all {
		<-c.gone
		c.mu.Lock()
		killed = append(killed, c.killed...)
		c.mu.Unlock()
	}
	if len(killed) > 0 {
		slices.Sort(killed)
		return fmt.Errorf("had to SIGKILL children and what they started %v after -drain-timeout %v", killed, s.cfg.drainTimeout)
	}
	s.log.Info("all children gone")
	return nil
}

// replace is the upgrade (the runhooks Replace hook): a new child with the
// same sockets; once it is ready and has passed probation the serving one
// drains. Until then the serving child stays s.serving, so that the new
// one dying is a failed upgrade, not a lost server.
func (s *supervisor) replace(ctx context.Context, progress func(string, int, string)) (int, error) {
	if err := s.checkDraining(); err != nil {
		return 0, err
	}
	serving := s.servingChild()
	if serving != nil {
		progress(control.EventUpgrading, serving.pid, "the serving child") // who keeps serving if this fails
	}
	c, err := s.startReady(ctx, progress)
	if err != nil {
		pid := 0
		if c != nil {
			pid = c.pid
		}
		return pid, err
	}
	if err := s.probation(ctx, c, serving, progress); err != nil {
		return c.pid, err
	}
	old := s.promote(c)
	if old != nil {
		s.drain(old)
		s.log.Info("child draining", "child", old.pid, "signal", s.cfg.stopSignal.String())
		progress(control.EventDraining, old.pid, "")
	}
	return c.pid, nil
}

func (s *supervisor) servingChild() *child {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serving
}

func (s *supervisor) checkDraining() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var pids []int
	for c := range s.gens {
		if c != s.serving {
			pids = append(pids, c.pid)
		}
	}
	if len(pids) >= s.cfg.maxDraining {
		slices.Sort(pids)
		return fmt.Errorf("%w: %d of %d allowed (pids %v)", upgrader.ErrTooManyDraining, len(pids), s.cfg.maxDraining, pids)
	}
	return nil
}

// promote makes c the serving child and returns the one it replaces.
func (s *supervisor) promote(c *child) *child {
	c.setState(childServing)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.serving
	s.serving = c
	return old
}

// detail is the status the upgrader reports for `handoff status`.
func (s *supervisor) detail() any {
	s.mu.Lock()
	var kids []*child
	for c := range s.gens {
		kids = append(kids, c)
	}
	s.mu.Unlock()
	d := runDetail{Program: append([]string{s.cfg.program}, s.cfg.args...), Children: []childInfo{},
		FDs: socketNames(s.socks), Tracking: s.tracking}
	for _, c := range kids {
		d.Children = append(d.Children, c.info(s.members(c)))
	}
	slices.SortFunc(d.Children, func(a, b childInfo) int { return a.Started.Compare(b.Started) })
	return d
}

// handleNotice acts on a child's notification; others' are dropped.
func (s *supervisor) handleNotice(nt notice) {
	s.mu.Lock()
	c := s.children[nt.pid]
	s.mu.Unlock()
	if c == nil {
		s.log.Debug("notification from a process that is not a child; ignored", "sender", nt.pid)
		return
	}
	if nt.hasState {
		c.setNote(nt.status)
		if c.statusLog.allow(time.Now(), nt.status, func(n int, latest string) { s.statusSuppressed(c, n, latest) }) {
			s.log.Info("child status", "child", c.pid, "status", nt.status)
			sdNotify("STATUS=" + nt.status)
		}
	}
	if nt.stopping && c.firstStopping() {
		s.log.Info("child says it is stopping", "child", c.pid)
	}
	if nt.ready {
		c.markReady()
	}
}

// statusSuppressed sums up the status lines of c that were not logged,
// and passes the latest on.
func (s *supervisor) statusSuppressed(c *child, n int, latest string) {
	s.log.Info("child status lines suppressed", "child", c.pid, "suppressed", n, "status", latest)
	sdNotify("STATUS=" + latest)
}

// sdNotify passes a line up to systemd when the supervisor runs under it;
// systemd ignores a service that cannot reach it, and so does this.
func sdNotify(state string) { _ = sdnotify.Send(state) }

// childEnv is the supervisor's environment without what describes its
// own sockets, plus the children's. FDSTORE goes too: the supervisor's
// notification socket is no fd store (the supervisor stores the sockets
// itself when the unit has one).
func childEnv(socks []childSocket, notifyPath string) []string {
	drop := []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "FDSTORE", wire.EnvFD}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(drop, k) {
			env = append(env, kv)
		}
	}
	return append(env, "LISTEN_FDS="+strconv.Itoa(len(socks)),
		"LISTEN_FDNAMES="+strings.Join(socketNames(socks), ":"), "NOTIFY_SOCKET="+notifyPath)
}
