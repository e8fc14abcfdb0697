package upgrader

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/handoff-go/handoff/control"
	"github.com/handoff-go/handoff/internal/ctlsock"
	"github.com/handoff-go/handoff/internal/wire"
)

// The new side of an upgrade, top to bottom: New finds the predecessor
// (findPrev: the parent that passed HANDOFF_FD, or a live server on the
// control socket), says hello, receives the set and checks who sent it
// (receiveFromPrev); Ready tells the predecessor this generation serves
// and takes the set once it acknowledges (ready, claimSet); then, if the
// predecessor watches this generation on probation, it waits for the
// verdict (awaitVerdict), during which GiveBack hands the service back;
// then the connection to the predecessor carries its idle connections
// here until it is gone (watchPrev).

// prevGen is the predecessor this process inherited its set from: the
// connection to it, held until it is gone or this process stops, and who
// it is, as the kernel (not the peer) says where the platform can.
type prevGen struct {
	conn     *wire.Conn
	peer     control.Peer
	draining []control.Peer // older generations it named, each checked here
}

func (p *prevGen) close() {
	if p != nil {
		p.conn.Close() // safe beside watchPrev's own Close
	}
}

// findPrev finds the predecessor (a parent that passed HANDOFF_FD, or a
// live process on the control socket) and receives its set; failing both,
// it takes what systemd socket activation offers.
func (u *Upgrader) findPrev() error {
	c, found, err := inheritedConn()
	if err != nil {
		return err
	}
	if found {
		u.mode = ModeChild
		if err := u.receiveFromPrev(c, "parent"); err != nil {
			return fmt.Errorf("upgrader: inherit from the parent: %w", err)
		}
		return nil
	}
	if u.opts.ControlPath != "" {
		c, live, err := dialLive(u.opts.ControlPath)
		if err != nil {
			return err
		}
		if live {
			u.mode = ModeTakeover
			return u.askTakeover(c)
		}
	}
	u.mode = ModeCold
	n, err := u.set.InheritSystemd()
	if err != nil {
		return fmt.Errorf("upgrader: systemd socket activation: %w", err)
	}
	u.inherited = n
	return nil
}

// inheritedConn returns the connection a parent passed in HANDOFF_FD;
// found is false when there is none. The variable is unset so that our
// own children never see it.
func inheritedConn() (c *wire.Conn, found bool, err error) {
	v, ok := os.LookupEnv(wire.EnvFD)
	if !ok {
		return nil, false, nil
	}
	os.Unsetenv(wire.EnvFD)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, true, fmt.Errorf("upgrader: %s=%q is not an inherited fd number", wire.EnvFD, v)
	}
	raw, err := socketFromFD(fd)
	if err != nil {
		return nil, true, fmt.Errorf("upgrader: %s=%d: %w", wire.EnvFD, fd, err)
	}
	return wire.NewConn(raw), true, nil
}

// dialLive connects to the control socket at path. live is false when
// nobody is there: no file, or a stale file nobody answers on (listeners
// replaces that when the control socket is bound).
func dialLive(path string) (c *wire.Conn, live bool, err error) {
	c, err = ctlsock.Dial(path, 2*time.Second)
	if de, ok := errors.AsType[*ctlsock.DialError](err); ok && (de.Failure == ctlsock.NoSocket || de.Failure == ctlsock.Stale) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("upgrader: dial control socket %s: %w", path, err)
	}
	return c, true, nil
}

// askTakeover asks the live process at the control socket for its set,
// once it has shown that it runs as this process's user (or root): anyone
// who could create the path first could otherwise pose as our predecessor.
func (u *Upgrader) askTakeover(c *wire.Conn) error {
	path := u.opts.ControlPath
	if err := checkPeerUser(c, "the server on "+path); err != nil {
		c.Close()
		return fmt.Errorf("upgrader: take over from %s: %w", path, err)
	}
	if err := ctlsock.Send(c, wire.Request{Op: wire.OpTakeover}); err != nil {
		c.Close()
		return fmt.Errorf("upgrader: ask %s for a takeover: %w", path, err)
	}
	if err := u.receiveFromPrev(c, "server on "+path); err != nil {
		return fmt.Errorf("upgrader: take over from %s: %w", path, err)
	}
	return nil
}

// receiveFromPrev runs the new side of the protocol up to the inherited
// set: hellos, the set, and who the predecessor is. Ready finishes it. It
// closes c on failure.
func (u *Upgrader) receiveFromPrev(c *wire.Conn, who string) error {
	prev, err := u.receive(c, who)
	if err != nil {
		c.Close()
		return err
	}
	u.self.Generation = prev.peer.Generation + 1
	u.prev = prev
	return nil
}

func (u *Upgrader) receive(c *wire.Conn, who string) (*prevGen, error) {
	// Before the peer writes: its hello then says who really wrote it.
	senders := c.TrackSenders() == nil
	if err := c.Send(wire.TypeHello, wire.Hello{PID: u.pid, Conns: u.offersConns(), Probation: true}); err != nil {
		return nil, fmt.Errorf("hello to the %s: %w", who, c.Refusal(err))
	}
	var hello wire.Hello
	if err := c.Expect(wire.TypeHello, &hello); err != nil {
		return nil, fmt.Errorf("hello from the %s: %w", who, err)
	}
	peer, err := identifyPrev(c, hello, senders)
	if err != nil {
		return nil, fmt.Errorf("the %s: %w", who, err)
	}
	entries, fds, err := c.RecvFiles()
	if err != nil {
		return nil, fmt.Errorf("receive listeners from pid %d: %w", peer.PID, err)
	}
	if err := u.set.Inherit(fromWireEntries(entries), fds); err != nil {
		c.Send(wire.TypeAbort, wire.Abort{Reason: err.Error()})
		return nil, fmt.Errorf("from pid %d: %w", peer.PID, err)
	}
	draining, dropped := checkDeclared(hello.Draining)
	if len(dropped) > 0 {
		u.log.Warn("ignoring draining generations that are gone or not ours", "pids", dropped)
	}
	u.inherited = len(fds)
	return &prevGen{conn: c, peer: peer, draining: draining}, nil
}

// identifyPrev says who the predecessor is. The kernel names the process
// that wrote its hello where it can (Linux); elsewhere the pid it declared
// must at least run as our user. Its start time is read here.
func identifyPrev(c *wire.Conn, hello wire.Hello, senders bool) (control.Peer, error) {
	pid := hello.PID
	if cred, ok := c.LastSender(); senders && ok {
		if err := checkUID(cred.UID); err != nil {
			return control.Peer{}, fmt.Errorf("pid %d: %w", cred.PID, err)
		}
		pid = cred.PID
	}
	if hello.Generation == math.MaxUint64 {
		return control.Peer{}, fmt.Errorf("%w: generation %d cannot be followed", wire.ErrMalformed, hello.Generation)
	}
	p, ok := observe(pid)
	if !ok {
		return control.Peer{}, fmt.Errorf("pid %d is not a running process of this user", pid)
	}
	p.Generation = hello.Generation
	return p, nil
}

// checkPeerUser admits a peer that runs as this process's user or root.
// Platforms that cannot tell rely on the socket's directory and mode.
func checkPeerUser(c *wire.Conn, who string) error {
	cred, err := c.PeerCred()
	if errors.Is(err, errors.ErrUnsupported) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := checkUID(cred.UID); err != nil {
		return fmt.Errorf("%s: %w", who, err)
	}
	return nil
}

func checkUID(uid int) error {
	if me := os.Geteuid(); uid != me && uid != 0 {
		return fmt.Errorf("permission denied: runs as uid %d; only uid %d or root may be trusted", uid, me)
	}
	return nil
}

// ready is Ready: the predecessor lets go of the set (claimSet), the
// lifecycle records that this process serves, and only then does it
// accept control requests and announce itself.
func (u *Upgrader) ready() error {
	if err := u.beginReady(); err != nil {
		return err
	}
	trial, err := u.claimSet()
	u.mu.Lock()
	serving := u.endReadyLocked(err, trial > 0)
	u.mu.Unlock()
	switch {
	case err != nil:
		return err
	case !serving: // Stop came first: nothing to announce
		return ErrStopped
	}
	if u.prev != nil {
		go u.watchPrev(trial)
	}
	u.ctl.start()
	u.log.Info("ready", "mode", u.mode, "listeners", u.set.Len())
	return u.announce()
}

// prevGoneGrace bounds how long Ready waits to see the predecessor gone
// when its connection broke before ReadyAck.
const prevGoneGrace = 2 * time.Second

// claimSet tells the predecessor (if any) that this generation serves and
// waits for its ReadyAck; then the set is ours to settle. A predecessor
// that died before acknowledging (its connection closed without a word,
// and the process is gone) cannot serve any more: this process then owns
// the set and serves, rather than leave nobody. trial is how long the
// predecessor watches this generation on probation (0: it drains now).
func (u *Upgrader) claimSet() (trial time.Duration, err error) {
	if p := u.prev; p != nil {
		var ack wire.ReadyAck
		err := p.conn.Send(wire.TypeReady, wire.Ready{PID: u.pid})
		if err == nil {
			err = p.conn.Expect(wire.TypeReadyAck, &ack)
		}
		if err != nil && !u.prevDied(err) {
			return 0, fmt.Errorf("upgrader: pid %d did not accept our Ready: %w", p.peer.PID, err)
		}
		if err == nil && ack.ProbationMS > 0 {
			trial = time.Duration(min(ack.ProbationMS, maxTrialMS)) * time.Millisecond
		}
	}
	if err := u.set.CloseUnclaimed(); err != nil {
		u.log.Warn("close unclaimed listeners", "err", err)
	}
	return trial, nil
}

// maxTrialMS bounds the probation a predecessor may announce: a day.
const maxTrialMS = 24 * 60 * 60 * 1000

// prevDied reports whether err means the predecessor died (rather than
// refused us) and it is gone for good.
func (u *Upgrader) prevDied(err error) bool {
	if _, refused := errors.AsType[*wire.AbortError](err); refused || !errors.Is(err, wire.ErrClosed) {
		return false
	}
	p := u.prev.peer
	for deadline := time.Now().Add(prevGoneGrace); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if !alive(p) {
			u.log.Warn("previous generation died before acknowledging Ready; this one serves", "old_pid", p.PID)
			return true
		}
	}
	return false
}

// announce publishes that this process serves: its listeners in systemd's
// fd store (when the unit has one), READY=1 on a cold start (after a
// handoff the predecessor sends MAINPID instead), and the pid file.
// It runs only once this process accepts upgrades, so that whoever acts on
// the pid file (kill -HUP $(cat pidfile)) never meets one that refuses.
func (u *Upgrader) announce() error {
	u.storeFDs()
	if u.prev == nil {
		notify("READY=1")
	}
	if err := u.pidFile.Commit(); err != nil {
		return fmt.Errorf("%w: %w", ErrPIDFile, err)
	}
	return nil
}

// watchPrev waits out this generation's probation (if the predecessor
// watches it), then receives the connections the predecessor moves here
// until it goes (its end of the connection closes when it exits), then
// forgets it.
func (u *Upgrader) watchPrev(trial time.Duration) {
	p := u.prev
	err := u.awaitVerdict(p, trial)
	if err == nil {
		err = u.receiveConns(p.conn)
	}
	p.conn.Close()
	u.log.Info("previous generation gone", "old_pid", p.peer.PID, "how", hangUp(err))
	u.mu.Lock()
	u.dropDrainingLocked(p.peer)
	u.mu.Unlock()
}

// hangUp says how a connection ended, for the log.
func hangUp(err error) string {
	switch {
	case err == nil:
		return "it sent an unexpected message"
	case errors.Is(err, wire.ErrClosed):
		return "closed"
	}
	return err.Error()
}

// verdictSlack is how long past the announced probation this generation
// waits for the predecessor's verdict before it takes silence for a pass.
const verdictSlack = 5 * time.Second

// awaitVerdict waits for the end of this generation's probation: the
// predecessor says it passed, or goes (then nobody is left to roll back
// to), or says nothing in time. It returns the error that ended the
// connection, if one did.
func (u *Upgrader) awaitVerdict(p *prevGen, trial time.Duration) error {
	if trial <= 0 {
		return nil
	}
	p.conn.SetTimeout(trial + verdictSlack)
	var v wire.Probation
	err := p.conn.Expect(wire.TypeProbation, &v)
	u.mu.Lock()
	open := u.endTrialLocked()
	u.mu.Unlock()
	switch {
	case err == nil && v.Outcome == wire.OutcomePassed:
		u.log.Info("passed probation", "old_pid", p.peer.PID)
		return nil
	case err == nil:
		return fmt.Errorf("%w: probation outcome %.40q from the predecessor", wire.ErrUnexpected, v.Outcome)
	case errors.Is(err, os.ErrDeadlineExceeded):
		u.log.Warn("no probation verdict from the previous generation; taking it for a pass", "old_pid", p.peer.PID)
		return nil
	case !open:
		return err // this generation gave the service back or stops: the predecessor hung up
	}
	u.log.Warn("previous generation gone on probation; this one serves alone", "old_pid", p.peer.PID, "how", hangUp(err))
	return err
}

// awaitTrial holds an upgrade (kind) asked of a generation on probation
// until the probation is over: its predecessor may still serve again, so
// the next generation must come from whoever serves after it.
func (u *Upgrader) awaitTrial(ctx context.Context, kind string) error {
	u.mu.Lock()
	trial := u.trialLocked()
	u.mu.Unlock()
	if trial == nil {
		return nil
	}
	u.log.Info(kind + " waits for the end of this generation's probation")
	select {
	case <-trial:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("upgrader: %s: waiting for the end of probation: %w", kind, context.Cause(ctx))
	case <-u.stopped:
		return ErrStopped
	}
}

// GiveBack hands the service back to the previous generation while it
// watches this one on probation (see Options.Probation), for instance
// when this generation's own health check fails: the previous generation
// accepts again at once and serves, and reports the upgrade rolled back
// with reason. Exit closes (ExitGaveBack): stop accepting, drain, Stop.
// It returns ErrNotOnProbation when nobody watches this generation any
// more (probation is over, was off, or the predecessor is gone).
func (u *Upgrader) GiveBack(reason string) error {
	u.mu.Lock()
	err := u.giveBackLocked()
	u.mu.Unlock()
	if err != nil {
		return err
	}
	u.pauseAccepting() // from now on the predecessor takes every connection
	u.ctl.closeListener()
	err = u.prev.conn.Send(wire.TypeProbation, wire.Probation{Outcome: wire.OutcomeGaveBack, Reason: reason})
	u.log.Warn("gave the service back to the previous generation", "old_pid", u.prev.peer.PID, "reason", reason)
	u.closeExit(ExitGaveBack)
	if err != nil {
		return fmt.Errorf("upgrader: give back to pid %d: %w", u.prev.peer.PID, err)
	}
	return nil
}

// endTrial tells the predecessor watching this generation on probation
// that it stops. A stop a control client asked for (handoff stop) stops
// the service: the predecessor must not serve again. Any other Stop on
// probation (main returned, a signal to this process alone) hands the
// service back, as a crash would.
func (u *Upgrader) endTrial(asked bool) {
	v := wire.Probation{Outcome: wire.OutcomeGaveBack, Reason: "stopped before its probation ended"}
	if asked {
		v = wire.Probation{Outcome: wire.OutcomeStopping}
	} else {
		u.pauseAccepting() // the predecessor takes every connection from now on
	}
	u.prev.conn.Send(wire.TypeProbation, v)
}
