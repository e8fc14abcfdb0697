package upgrader

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/handoff-go/handoff/control"
	"github.com/handoff-go/handoff/internal/pidfile"
	"github.com/handoff-go/handoff/internal/wire"
	"github.com/handoff-go/handoff/listeners"
)

// The old side of an upgrade, top to bottom. It begins in one of three
// ways: Upgrade (or UpgradeOnSignal), a control client's upgrade request
// (upgrade), or a process that dialed the control socket to take over
// (admitTakeover, then upgradeToDialer). Then: start the successor as a
// child or take the dialer as it is (upgradeTo), hellos, lend it the set,
// wait for its Ready, commit with ReadyAck (giveTo, under talkToNext's
// deadline), stop accepting and watch it on probation (probation: serve
// again if it dies or gives back), start moving idle connections to it,
// let go of the set and tell systemd (endUpgrade), and last close Exit,
// which starts the drain.

// nextGen is the successor an upgrade hands the set to: a child this
// process started, or a process someone else started that dialed the
// control socket (a takeover). From the hello on, both are handled alike.
type nextGen struct {
	conn  *wire.Conn // closed by the watchdog to cut a blocked conversation short
	pid   int        // from the kernel: the child's pid, or the dialer's credentials
	hello *wire.Hello

	// A child's exit status, and how to end it; both nil for a takeover.
	// Whoever receives from exited sets reaped, and kill is then not
	// called.
	exited <-chan error
	kill   func()
	reaped bool
}

// reporter tells whoever asked for an upgrade (a control client) how it
// goes. The zero reporter tells nobody.
type reporter struct {
	progress func(control.Progress)
	result   func(control.Result)
}

func (r reporter) send(event string, pid int, detail string) {
	if r.progress != nil {
		r.progress(control.Progress{Event: event, PID: pid, Detail: detail})
	}
}

func (r reporter) done(pid int, err error) {
	if r.result == nil {
		return
	}
	res := control.Result{OK: err == nil, PID: pid}
	if err != nil {
		res.Code, res.Error = resultCode(err), err.Error()
	}
	r.result(res)
}

// upgrade runs one upgrade for Upgrade or a control client and returns
// the new pid: a child takes the set, or `handoff run`'s Replace hook
// replaces what serves behind it (replace.go).
func (u *Upgrader) upgrade(ctx context.Context, report reporter) (int, error) {
	if u.opts.hooks.Replace != nil {
		return u.replace(ctx, report)
	}
	return u.upgradeTo(ctx, "upgrade", u.startChild, report)
}

// admitTakeover reads the hello of a process that asked the control
// socket for a takeover. It must say it within requestTimeout, before it
// holds the one upgrade slot; then, like a child, be ready in time.
func (u *Upgrader) admitTakeover(c *wire.Conn) (*nextGen, error) {
	var hello wire.Hello
	if err := c.Expect(wire.TypeHello, &hello); err != nil {
		return nil, fmt.Errorf("no hello: %w", err)
	}
	cred, err := c.PeerCred()
	pid := cred.PID
	if err != nil || pid <= 0 {
		pid = hello.PID // the platform does not say; only used to report
	}
	return &nextGen{conn: c, pid: pid, hello: &hello}, nil
}

// upgradeToDialer hands the set to the admitted process, which owns n.conn
// from here: it keeps it on success and closes it on failure.
func (u *Upgrader) upgradeToDialer(n *nextGen) {
	arrived := func(context.Context) (*nextGen, error) { return n, nil }
	_, err := u.upgradeTo(context.Background(), "takeover", arrived, reporter{})
	_, ran := errors.AsType[*UpgradeError](err)
	if _, rolledBack := errors.AsType[*RollbackError](err); err != nil && !ran && !rolledBack {
		// Refused before it began; an upgrade that ran has told the peer.
		n.conn.Send(wire.TypeAbort, wire.Abort{Reason: "takeover refused: " + err.Error()})
		n.conn.Close()
	}
}

// upgradeTo is the old side of every upgrade, however the successor
// arrives: arrive starts a child, or returns the process that dialed. It
// returns the new pid once the successor serves (Exit is closed by then),
// or why not, in which case this process keeps serving. The client hears
// the outcome before Exit is closed.
func (u *Upgrader) upgradeTo(ctx context.Context, kind string, arrive func(context.Context) (*nextGen, error), report reporter) (int, error) {
	if err := u.awaitTrial(ctx, kind); err != nil {
		report.done(0, err)
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, u.opts.UpgradeTimeout)
	defer cancel()
	draining, err := u.beginUpgrade(kind, cancel, report)
	if err != nil {
		report.done(0, err)
		return 0, err
	}
	var pid int
	var next *nextGen
	if next, err = arrive(ctx); err == nil {
		pid = next.pid
		report.send(control.EventStarted, pid, "")
		err = u.talkToNext(ctx, next, draining, report)
	}
	if err == nil {
		err = u.probation(next, report)
	}
	u.endUpgrade(pid, next, err)
	if err == nil {
		report.send(control.EventDraining, u.pid, "")
	}
	report.done(pid, err)
	if err == nil {
		u.closeExit(ExitHandedOver)
	}
	return pid, err
}

// beginUpgrade marks an upgrade (or takeover: kind) running, or says why
// it may not start, and returns the draining generations to pass on.
// cancel is how Stop interrupts it.
func (u *Upgrader) beginUpgrade(kind string, cancel context.CancelFunc, report reporter) ([]control.Peer, error) {
	u.mu.Lock()
	draining, err := u.beginUpgradeLocked(cancel)
	u.mu.Unlock()
	if err != nil {
		u.log.Warn(kind+" refused", "err", err)
		return nil, err
	}
	notifyReloading()
	u.log.Info(kind + " started")
	report.send(control.EventUpgrading, u.pid, fmt.Sprintf("generation %d", u.self.Generation))
	return draining, nil
}

// startChild starts the successor as a child, with one end of a
// socketpair inherited as HANDOFF_FD, and watches for its exit.
func (u *Upgrader) startChild(context.Context) (*nextGen, error) {
	cmd, err := u.command()
	if err != nil {
		return nil, &UpgradeError{Step: "start", Err: fmt.Errorf("build command: %w", err)}
	}
	raw, err := startWithSocket(cmd)
	if err != nil {
		return nil, &UpgradeError{Step: "start", Err: err}
	}
	pid := cmd.Process.Pid
	u.log.Info("new process started", "new_pid", pid)
	exited := make(chan error, 1)
	go func() { exited <- exitCause(cmd, cmd.Wait()) }()
	kill := func() {
		cmd.Process.Kill()
		<-exited
	}
	return &nextGen{conn: wire.NewConn(raw), pid: pid, exited: exited, kill: kill}, nil
}

// command builds the command for the successor.
func (u *Upgrader) command() (*exec.Cmd, error) {
	if u.opts.Command != nil {
		return u.opts.Command()
	}
	cmd := exec.Command(u.executable(), os.Args[1:]...)
	cmd.Args[0] = u.exe // what ps shows, even when started from the fallback
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return cmd, nil
}

// executable is the path to start the successor from: the one this
// process was started from, where a deploy puts the new build. If nothing
// is there any more (deleted, not replaced: `go run` removes its temporary
// build once its child, the first generation, exits), the running image
// itself is started where the platform allows it.
func (u *Upgrader) executable() string {
	if _, err := os.Stat(u.exe); !errors.Is(err, os.ErrNotExist) {
		return u.exe
	}
	if self, ok := runningImage(); ok {
		u.log.Warn("executable is gone; starting the running image again", "path", u.exe)
		return self
	}
	return u.exe // exec fails and says so
}

func exitCause(cmd *exec.Cmd, err error) error {
	if _, ok := errors.AsType[*exec.ExitError](err); err == nil || ok {
		return &ExitError{PID: cmd.Process.Pid, State: cmd.ProcessState.String()}
	}
	return err
}

// talkToNext runs the protocol with the successor under the upgrade's
// deadline. On failure it says why as precisely as it can (a child's exit
// status beats "connection closed"), and leaves nothing behind: the
// connection is closed and a child is killed and reaped.
func (u *Upgrader) talkToNext(ctx context.Context, n *nextGen, draining []control.Peer, report reporter) error {
	if d, ok := ctx.Deadline(); ok {
		n.conn.SetDeadline(d.Add(backstop))
	}
	wd := startWatchdog(ctx, n.conn, n.exited)
	uerr := u.giveTo(n, draining, report)
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
	n.reaped = exited
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

// probation watches the successor, which serves now, for
// Options.Probation while this process keeps its sockets and connections
// but accepts nothing (the successor's Accept gets every new connection,
// and the kernel queues them while no process accepts). It returns nil
// when the successor passes (the period ends, this process is stopped, or
// the successor says it stops on purpose), or a *RollbackError when the
// successor died, hung up, broke the protocol or gave the service back:
// then this process accepts again, beginning with what queued, and the
// successor is gone or going.
func (u *Upgrader) probation(n *nextGen, report reporter) error {
	d := u.opts.Probation
	if d <= 0 {
		return nil
	}
	u.mu.Lock()
	stop := u.beginProbationLocked()
	u.mu.Unlock()
	u.pauseAccepting()
	notify(fmt.Sprintf("STATUS=probation: pid %d serves; pid %d watches it for %v", n.pid, u.pid, d))
	report.send(control.EventProbation, u.pid, d.String())
	u.log.Info("probation started", "new_pid", n.pid, "for", d.String())
	reason, kill := u.watch(n, d, stop)
	n.conn.SetTimeout(wire.DefaultTimeout) // watch's deadline has passed
	if reason == "" {
		if n.hello.Probation {
			n.conn.Send(wire.TypeProbation, wire.Probation{Outcome: wire.OutcomePassed})
		}
		n.conn.SetTimeout(0)
		report.send(control.EventPassed, n.pid, "")
		u.log.Info("new generation passed probation", "new_pid", n.pid)
		return nil
	}
	u.resumeAccepting()
	n.conn.Close()
	if kill && n.kill != nil && !n.reaped {
		n.kill()
	}
	return &RollbackError{PID: n.pid, Reason: reason}
}

// verdict is what the successor said on probation, or why it said nothing.
type verdict struct {
	msg wire.Probation
	err error
}

// watch waits for the successor to fail probation, the period to end,
// or stop. It returns why the successor failed ("" when it passed), and
// whether a child that may still run must be killed.
func (u *Upgrader) watch(n *nextGen, d time.Duration, stop <-chan struct{}) (reason string, kill bool) {
	n.conn.SetDeadline(time.Now().Add(d))
	said := make(chan verdict, 1)
	go func() {
		var v verdict
		v.err = n.conn.Expect(wire.TypeProbation, &v.msg)
		said <- v
	}()
	select {
	case v := <-said:
		return u.judge(n, v)
	case err := <-n.exited: // nil for a takeover: its hang-up says it
		n.reaped = true
		if v := lastWord(n.conn, said); v.err == nil {
			return u.judge(n, v) // it spoke, then exited: gave back, or stopping
		}
		return died(err), false
	case <-stop:
		n.conn.WakeReader()
		if v := <-said; v.err == nil {
			return u.judge(n, v) // it spoke first
		}
		return "", false
	}
}

// lastWord returns what a child that has exited said on probation. Its
// end of the connection is closed, so the read ends by itself, with the
// frame it sent before it went or with EOF; waking the reader at once
// could lose that frame (a child whose main returned says gave-back and
// then exits). A descendant that kept the socket open is cut after
// exitGrace.
func lastWord(c *wire.Conn, said <-chan verdict) verdict {
	t := time.NewTimer(exitGrace)
	defer t.Stop()
	select {
	case v := <-said:
		return v
	case <-t.C:
		c.WakeReader()
		return <-said
	}
}

// judge turns what the successor said (or its silence) into a verdict.
func (u *Upgrader) judge(n *nextGen, v verdict) (reason string, kill bool) {
	switch {
	case v.err == nil && v.msg.Outcome == wire.OutcomeGaveBack:
		return "gave the service back: " + oneLine(v.msg.Reason), false
	case v.err == nil && v.msg.Outcome == wire.OutcomeStopping:
		return "", false // stopping on purpose: this process must not serve on
	case v.err == nil:
		return fmt.Sprintf("broke the protocol (probation outcome %.40q)", v.msg.Outcome), true
	case errors.Is(v.err, os.ErrDeadlineExceeded):
		return "", false // the period is over
	case n.exited != nil && errors.Is(v.err, wire.ErrClosed):
		if cause, exited := waitExit(n.exited, exitGrace); exited {
			n.reaped = true
			return died(cause), false
		}
		return "hung up its control connection", true
	case errors.Is(v.err, wire.ErrClosed):
		return "hung up its control connection (died or exited)", false
	}
	return "broke the protocol (" + oneLine(v.err.Error()) + ")", true
}

// died says how a child that was ready ended.
func died(err error) string {
	if ee, ok := errors.AsType[*ExitError](err); ok {
		return "died (" + ee.State + ")"
	}
	if err == nil {
		return "died"
	}
	return "died (" + oneLine(err.Error()) + ")"
}

// servesAgain makes this process the one that serves after a rollback
// (its own probation, or `handoff run`'s): it accepts already (probation
// resumed it); the pid file, systemd's STATUS= and the fd store learn it
// here.
func (u *Upgrader) servesAgain(rb *RollbackError) {
	u.log.Error("rolled back: serving again", "new_pid", rb.PID, "reason", rb.Reason)
	if err := pidfile.Start(u.opts.PIDFile, u.pid).Commit(); err != nil {
		u.log.Warn("rolled back, but the pid file was not rewritten", "err", err)
	}
	// MAINPID never left this process: it moves only when probation passes.
	notify(fmt.Sprintf("STATUS=rolled back: new pid %d %s\nREADY=1", rb.PID, oneLine(rb.Reason)))
	u.storeFDs() // the successor may have removed names it did not use
}

// giveTo is the protocol itself: hellos, the set's fds, Ready, ReadyAck,
// then the connection stays to carry idle connections.
//
// This side does not wait for the successor's hello before it sends its
// own, the manifest and the first batch: a child still starting up then
// finds them waiting, and no round trip to this (possibly busy) process
// lies on its way to Ready. The successor says hello first all the same,
// so builds of either order upgrade to each other. Nothing the hello says
// is trusted for what is sent: a child is ours by the socketpair, and a
// takeover's user was checked when it connected.
func (u *Upgrader) giveTo(n *nextGen, draining []control.Peer, report reporter) *UpgradeError {
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
	count, err := u.lendSet(n.conn, theirs)
	switch {
	case helloErr != nil:
		return &UpgradeError{Step: "handshake", Err: helloErr}
	case err != nil:
		return &UpgradeError{Step: "handover", Err: err}
	}
	report.send(control.EventHandedOver, n.pid, fmt.Sprintf("%d fds", count))
	if err := n.conn.Expect(wire.TypeReady, &wire.Ready{}); err != nil {
		return &UpgradeError{Step: "ready", Err: err}
	}
	if err := n.conn.Send(wire.TypeReadyAck, wire.ReadyAck{ProbationMS: u.opts.Probation.Milliseconds()}); err != nil {
		return &UpgradeError{Step: "ready", Err: err}
	}
	report.send(control.EventReady, n.pid, "")
	return nil
}

// lendSet passes the set's own fds (lent, not duplicated) to the peer;
// ahead reads what the peer says before its first Ack.
func (u *Upgrader) lendSet(c *wire.Conn, ahead func() error) (int, error) {
	n := 0
	err := u.set.Lend(func(entries []listeners.Entry, fds []int) error {
		n = len(fds)
		return c.SendFilesAhead(toWireEntries(entries), fds, ahead)
	})
	return n, err
}

// endUpgrade records the outcome, then acts on it: on success this process
// lets go of the set (closing its listeners: it accepts no more) and
// tells systemd who serves now.
func (u *Upgrader) endUpgrade(pid int, next *nextGen, err error) {
	var conn *wire.Conn
	if err == nil {
		conn = next.conn
	}
	u.mu.Lock()
	done := u.endUpgradeLocked(pid, conn, err)
	u.mu.Unlock()
	defer close(done)
	if rb, ok := errors.AsType[*RollbackError](err); ok {
		u.servesAgain(rb)
		return
	}
	if err != nil {
		u.log.Error("upgrade failed", "new_pid", pid, "err", err)
		notify(fmt.Sprintf("STATUS=upgrade failed: %s\nREADY=1", oneLine(err.Error())))
		return
	}
	u.startSendingConns(next.conn, *next.hello)
	u.ctl.closeListener()
	u.set.Close(false)
	// STATUS= replaces what a failed upgrade left there.
	notify(fmt.Sprintf("MAINPID=%d\nSTATUS=serving: pid %d, generation %d\nREADY=1", pid, pid, u.self.Generation+1))
	u.log.Info("handed over", "new_pid", pid)
}

// backstop is how long after the upgrade's deadline the connection's own
// deadline fires. The watchdog acts on the context first and reports the
// real cause; the connection deadline only guards against a lost wakeup.
const backstop = time.Second

// exitGrace is how long a failed upgrade waits for the child's exit status
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

func toWirePeers(ps []control.Peer) []wire.Peer {
	out := make([]wire.Peer, len(ps))
	for i, p := range ps {
		out[i] = wire.Peer(p)
	}
	return out
}
