package upgrader

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/handoff-go/handoff/internal/wire"
	"github.com/handoff-go/handoff/listeners"
)

// nextGen is the process an upgrade hands the set to: a child this process
// started, or a process someone else started that dialed the control
// socket (a takeover). From the hello on, both are handled alike.
type nextGen struct {
	conn  *wire.Conn // closed by the watchdog to cut a blocked conversation short
	pid   int        // from the kernel: the child's pid, or the dialer's credentials
	hello *wire.Hello

	// A child's exit status, and how to end it; both nil for a takeover.
	exited <-chan error
	kill   func()
}

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
		res.Code, res.Error = resultCode(err), err.Error()
	}
	r.result(res)
}

// handOff is the old side of every handoff, however the next process
// arrives: arrive starts a child, or returns the takeover peer that
// already dialed. It returns the new pid once the new process serves
// (Exit is closed by then), or why not, in which case this process keeps
// serving. The client hears the outcome before Exit is closed: once it is,
// the application may drain in microseconds and Stop, hanging up on it.
func (u *Upgrader) handOff(ctx context.Context, kind string, arrive func(context.Context) (*nextGen, error), report reporter) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, u.opts.UpgradeTimeout)
	defer cancel()
	draining, err := u.begin(kind, cancel, report)
	if err != nil {
		report.done(0, err)
		return 0, err
	}
	var pid int
	var next *nextGen
	if next, err = arrive(ctx); err == nil {
		pid = next.pid
		report.send(wire.EventStarted, pid, "")
		err = u.converse(ctx, next, draining, report)
	}
	u.endUpgrade(pid, next, err)
	if err == nil {
		report.send(wire.EventDraining, u.pid, "")
	}
	report.done(pid, err)
	if err == nil {
		u.mu.Lock()
		u.closeExitLocked()
		u.mu.Unlock()
	}
	return pid, err
}

// begin marks an upgrade (or takeover: kind) running, or says why it may
// not start, and returns the draining generations to pass on. cancel is
// how Stop interrupts it.
func (u *Upgrader) begin(kind string, cancel context.CancelFunc, report reporter) ([]Peer, error) {
	u.mu.Lock()
	draining, err := u.beginUpgradeLocked(cancel)
	u.mu.Unlock()
	if err != nil {
		u.log.Warn(kind+" refused", "err", err)
		return nil, err
	}
	notifyReloading()
	u.log.Info(kind + " started")
	report.send(wire.EventUpgrading, u.pid, fmt.Sprintf("generation %d", u.self.Generation))
	return draining, nil
}

// endUpgrade records the outcome, then acts on it: on success this process
// lets go of the set and tells systemd who serves now.
func (u *Upgrader) endUpgrade(pid int, next *nextGen, err error) {
	var conn *wire.Conn
	if err == nil {
		conn = next.conn
	}
	u.mu.Lock()
	done := u.endUpgradeLocked(pid, conn, err)
	u.mu.Unlock()
	defer close(done)
	if err != nil {
		u.log.Error("upgrade failed", "new_pid", pid, "err", err)
		notify(fmt.Sprintf("STATUS=upgrade failed: %s\nREADY=1", oneLine(err.Error())))
		return
	}
	u.ctl.closeListener()
	u.set.Close(false)
	// STATUS= replaces what a failed upgrade left there.
	notify(fmt.Sprintf("MAINPID=%d\nSTATUS=serving: pid %d, generation %d\nREADY=1", pid, pid, u.self.Generation+1))
	u.log.Info("handed over", "new_pid", pid)
}

// converse runs the protocol with the next process under the upgrade's
// deadline. On failure it says why as precisely as it can (a child's exit
// status beats "connection closed"), and leaves nothing behind: the
// connection is closed and a child is killed and reaped.
func (u *Upgrader) converse(ctx context.Context, n *nextGen, draining []Peer, report reporter) error {
	if d, ok := ctx.Deadline(); ok {
		n.conn.SetDeadline(d.Add(backstop))
	}
	wd := startWatchdog(ctx, n.conn, n.exited)
	uerr := u.handOver(n, draining, report)
	cause := wd.finish()
	if uerr == nil {
		n.conn.SetTimeout(0)
		return nil
	}
	uerr.PID = n.pid
	exited := wd.exited
	if n.exited != nil && cause == nil && errors.Is(uerr.Err, wire.ErrClosed) {
		cause, exited = waitExit(n.exited, exitGrace)
	}
	if cause != nil {
		uerr.Err = cause
	}
	if n.kill == nil { // a takeover: tell the peer why before hanging up
		n.conn.Send(wire.TypeAbort, wire.Abort{Reason: uerr.Error()})
	}
	n.conn.Close()
	if n.kill != nil && !exited {
		n.kill()
	}
	return uerr
}

// handOver is the protocol itself: hellos, the set's fds, Ready, ReadyAck.
//
// This side does not wait for the new process's hello before it sends its
// own, the manifest and the first batch: a child still starting up then
// finds them waiting, and no round trip to this (possibly busy) process
// lies on its way to Ready. The new process says hello first all the same,
// so builds of either order upgrade to each other. Nothing the hello says
// is trusted for what is sent: a child is ours by the socketpair, and a
// takeover's user was checked when it connected.
func (u *Upgrader) handOver(n *nextGen, draining []Peer, report reporter) *UpgradeError {
	mine := wire.Hello{PID: u.pid, Generation: u.self.Generation, Draining: toWirePeers(draining)}
	if err := n.conn.Send(wire.TypeHello, mine); err != nil {
		return &UpgradeError{Step: "handshake", Err: err}
	}
	var helloErr error
	theirs := func() error {
		if n.hello != nil {
			return nil // a takeover's, read before the upgrade began
		}
		var hello wire.Hello
		if helloErr = n.conn.Expect(wire.TypeHello, &hello); helloErr == nil {
			n.hello = &hello
		}
		return helloErr
	}
	count, err := u.sendSet(n.conn, theirs)
	switch {
	case helloErr != nil:
		return &UpgradeError{Step: "handshake", Err: helloErr}
	case err != nil:
		return &UpgradeError{Step: "handover", Err: err}
	}
	report.send(wire.EventHandedOver, n.pid, fmt.Sprintf("%d fds", count))
	if err := n.conn.Expect(wire.TypeReady, &wire.Ready{}); err != nil {
		return &UpgradeError{Step: "ready", Err: err}
	}
	if err := n.conn.Send(wire.TypeReadyAck, struct{}{}); err != nil {
		return &UpgradeError{Step: "ready", Err: err}
	}
	u.moveConnsTo(n.conn, *n.hello) // the connection to the new generation carries them
	report.send(wire.EventReady, n.pid, "")
	return nil
}

// sendSet passes the set's own fds (lent, not duplicated) to the peer;
// ahead reads what the peer says before its first Ack.
func (u *Upgrader) sendSet(c *wire.Conn, ahead func() error) (int, error) {
	n := 0
	err := u.set.Lend(func(entries []listeners.Entry, fds []int) error {
		n = len(fds)
		return c.SendFilesAhead(toWireEntries(entries), fds, ahead)
	})
	return n, err
}

// backstop is how long after the upgrade's deadline the connection's own
// deadline fires. The watchdog acts on the context first and reports the
// real cause; the connection deadline only guards against a lost wakeup.
const backstop = time.Second

// exitGrace is how long a failed handoff waits for the child's exit status
// when the child hung up, so the error can say how it ended.
const exitGrace = 500 * time.Millisecond

// watchdog closes c when ctx ends or exited delivers, whichever is first,
// so that a blocked conversation returns; cause then says why.
type watchdog struct {
	stop   chan struct{}
	done   chan struct{}
	cause  error
	exited bool // cause came from the exited channel: the child is reaped
}

func startWatchdog(ctx context.Context, c *wire.Conn, exited <-chan error) *watchdog {
	w := &watchdog{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		select {
		case <-w.stop:
			return
		case <-ctx.Done():
			w.cause = ctxCause(ctx)
		case err := <-exited: // never ready for a takeover: exited is nil
			w.cause, w.exited = err, true
		}
		c.Close()
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

func waitExit(exited <-chan error, grace time.Duration) (error, bool) {
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case err := <-exited:
		return err, true
	case <-t.C:
		return nil, false
	}
}

// toWireEntries and fromWireEntries are the one place the set's entries
// and the protocol's meet: neither room may import the other.
func toWireEntries(es []listeners.Entry) []wire.Entry {
	out := make([]wire.Entry, len(es))
	for i, e := range es {
		out[i] = wire.Entry(e)
	}
	return out
}

func fromWireEntries(es []wire.Entry) []listeners.Entry {
	out := make([]listeners.Entry, len(es))
	for i, e := range es {
		out[i] = listeners.Entry(e)
	}
	return out
}
