package upgrader

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/handoff-go/handoff/internal/wire"
	"github.com/handoff-go/handoff/listeners"
)

// Progress events of an upgrade, in order. They are logged, and streamed
// to `handoff upgrade`.
const (
	EventStarted    = "started"     // the new process is running
	EventHandedOver = "handed-over" // every fd has been passed and acked
	EventReady      = "ready"       // the new process serves
	EventDraining   = "draining"    // this process stopped accepting
)

// reporter tells whoever asked for an upgrade (a control client) how it
// goes. The zero reporter tells nobody.
type reporter struct {
	progress func(wire.Progress)
	result   func(wire.Result)
}

func (r reporter) send(event string, pid int, detail string) {
	if r.progress != nil {
		r.progress(wire.Progress{Event: event, PID: pid, Detail: detail})
	}
}

func (r reporter) done(pid int, err error) {
	if r.result == nil {
		return
	}
	res := wire.Result{OK: err == nil, PID: pid}
	if err != nil {
		res.Error = err.Error()
	}
	r.result(res)
}

// upgrade runs one child-mode upgrade and returns the new pid.
func (u *Upgrader) upgrade(ctx context.Context, report reporter) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, u.opts.UpgradeTimeout)
	defer cancel()
	draining, err := u.begin("upgrade", cancel)
	if err != nil {
		report.done(0, err)
		return 0, err
	}
	pid, next, err := u.spawn(ctx, draining, report)
	u.do(func(s *state) { s.endUpgrade(u, pid, next, err) })
	if err == nil {
		report.send(EventDraining, u.pid, "")
	}
	// The client hears the outcome before Exit is closed: once it is, the
	// application may drain in microseconds and Stop, hanging up on it.
	report.done(pid, err)
	if err == nil {
		u.do(func(s *state) { s.closeExit(u) })
	}
	return pid, err
}

// begin marks an upgrade (or takeover: kind) running, or says why it may
// not start, and returns the draining generations to pass on. cancel is
// how Stop interrupts it.
func (u *Upgrader) begin(kind string, cancel context.CancelFunc) ([]Peer, error) {
	var draining []Peer
	var err error
	if e := u.do(func(s *state) { draining, err = s.beginUpgrade(cancel) }); e != nil {
		err = e
	}
	if err != nil {
		u.log.Warn(kind+" refused", "err", err)
		return nil, err
	}
	notifyReloading()
	u.log.Info(kind + " started")
	return draining, nil
}

// handOver runs the old side of the protocol on c until the new process is
// ready: hellos, the fds, Ready, ReadyAck. It returns the new pid (once
// known) and which step failed.
func (u *Upgrader) handOver(c *wire.Conn, draining []Peer, report reporter) (int, *UpgradeError) {
	var hello wire.Hello
	if err := c.Expect(wire.TypeHello, &hello); err != nil {
		return 0, &UpgradeError{Step: "handshake", Err: err}
	}
	pid := hello.PID
	fail := func(step string, err error) (int, *UpgradeError) {
		return pid, &UpgradeError{Step: step, PID: pid, Err: err}
	}
	mine := wire.Hello{PID: u.pid, Generation: u.gen, Draining: toWirePeers(draining)}
	if err := c.Send(wire.TypeHello, mine); err != nil {
		return fail("handshake", err)
	}
	n, err := u.sendSet(c)
	if err != nil {
		return fail("handover", err)
	}
	report.send(EventHandedOver, pid, fmt.Sprintf("%d fds", n))
	var ready wire.Ready
	if err := c.Expect(wire.TypeReady, &ready); err != nil {
		return fail("ready", err)
	}
	if err := c.Send(wire.TypeReadyAck, struct{}{}); err != nil {
		return fail("ready", err)
	}
	u.moveConnsTo(c, hello)
	report.send(EventReady, pid, "")
	return pid, nil
}

// sendSet passes the set's own fds (lent, not duplicated) to the peer.
func (u *Upgrader) sendSet(c *wire.Conn) (int, error) {
	n := 0
	err := u.set.Lend(func(entries []listeners.Entry, fds []int) error {
		wes := make([]wire.Entry, len(entries))
		for i, e := range entries {
			wes[i] = wire.Entry{Name: e.Name, Network: e.Network, Addr: e.Addr}
		}
		n = len(fds)
		return c.SendFiles(wes, fds)
	})
	return n, err
}

// receive runs the new side of the protocol on c up to the inherited set;
// Ready finishes it.
func (u *Upgrader) receive(c *wire.Conn) error {
	if err := c.Send(wire.TypeHello, wire.Hello{PID: u.pid, Conns: u.offersConns()}); err != nil {
		return fmt.Errorf("upgrader: hello to previous generation: %w", err)
	}
	var hello wire.Hello
	if err := c.Expect(wire.TypeHello, &hello); err != nil {
		return fmt.Errorf("upgrader: hello from previous generation: %w", err)
	}
	entries, fds, err := c.RecvFiles()
	if err != nil {
		return fmt.Errorf("upgrader: receive listeners from pid %d: %w", hello.PID, err)
	}
	les := make([]listeners.Entry, len(entries))
	for i, e := range entries {
		les[i] = listeners.Entry{Name: e.Name, Network: e.Network, Addr: e.Addr}
	}
	if err := u.set.Inherit(les, fds); err != nil {
		c.Send(wire.TypeAbort, wire.Abort{Reason: err.Error()})
		return fmt.Errorf("upgrader: inherit listeners from pid %d: %w", hello.PID, err)
	}
	u.gen = hello.Generation + 1
	u.inherited = len(fds)
	u.parent = c
	u.parentHello = hello
	return nil
}

// takeOwnership tells the previous generation (if any) that this one
// serves and waits for its ReadyAck; then the set is ours to settle.
func (u *Upgrader) takeOwnership() error {
	if u.parent != nil {
		if err := u.parent.Send(wire.TypeReady, wire.Ready{PID: u.pid}); err != nil {
			return fmt.Errorf("upgrader: tell pid %d we are ready: %w", u.parentHello.PID, err)
		}
		if err := u.parent.Expect(wire.TypeReadyAck, &struct{}{}); err != nil {
			return fmt.Errorf("upgrader: pid %d did not accept our Ready: %w", u.parentHello.PID, err)
		}
	}
	if err := u.set.CloseUnclaimed(); err != nil {
		u.log.Warn("close unclaimed listeners", "err", err)
	}
	return nil
}

// announce publishes that this process serves: the pid file, and READY=1
// on a cold start (after a handoff the old process sends MAINPID instead).
// It runs only once this process accepts upgrades, so that whoever acts on
// the pid file (kill -HUP $(cat pidfile)) never meets one that refuses.
func (u *Upgrader) announce() error {
	if u.parent == nil {
		notify("READY=1")
	}
	return writePIDFile(u.opts.PIDFile, u.pid)
}

// watchParent takes the idle connections the previous generation moves
// (conns_recv.go) until it goes (its end of the connection closes when it
// exits), then forgets it.
func (u *Upgrader) watchParent() {
	err := u.takeConns(u.parent)
	u.parent.Close() // Close is safe beside Stop's own Close of it
	pid := u.parentHello.PID
	u.log.Info("previous generation gone", "old_pid", pid, "how", errString(err))
	u.do(func(s *state) { s.dropDraining(pid) })
}

// backstop is how long after the upgrade's deadline the connection's own
// deadline fires. The watchdog acts on the context first and reports the
// real cause; the connection deadline only guards against a lost wakeup.
const backstop = time.Second

// watchdog closes raw when ctx ends or exited delivers, whichever is first,
// so that a blocked handOver returns; cause then says why.
type watchdog struct {
	stop   chan struct{}
	done   chan struct{}
	cause  error
	exited bool // cause came from the exited channel: the child is reaped
}

func startWatchdog(ctx context.Context, raw net.Conn, exited <-chan error) *watchdog {
	w := &watchdog{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		select {
		case <-w.stop:
			return
		case <-ctx.Done():
			w.cause = ctxCause(ctx)
		case err := <-exited:
			w.cause, w.exited = err, true
		}
		raw.SetDeadline(time.Unix(1, 0))
		raw.Close()
	}()
	return w
}

// finish stops the watchdog and returns why it fired, if it did.
func (w *watchdog) finish() error {
	close(w.stop)
	<-w.done
	return w.cause
}

func ctxCause(ctx context.Context) error {
	err := ctx.Err()
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("new process not ready in time: %w", err)
	}
	return err
}

func toWirePeers(ps []Peer) []wire.Peer {
	out := make([]wire.Peer, len(ps))
	for i, p := range ps {
		out[i] = wire.Peer{PID: p.PID, Generation: p.Generation}
	}
	return out
}

func errString(err error) string {
	if err == nil {
		return "closed"
	}
	return err.Error()
}
