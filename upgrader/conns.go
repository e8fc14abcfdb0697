package upgrader

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/handoff-go/handoff/internal/inbox"
	"github.com/handoff-go/handoff/internal/wire"
)

// Moving idle connections: the public ConnMover and the registry both
// sides share. The old side's sender is in conns_send.go, the new side's
// receiver in conns_recv.go; the descriptors themselves in conns_unix.go.
//
// After Ready, the connection to the successor stays open while this
// generation drains; over it the old side passes connections that
// httpdrain (or another Mover user) found idle, in rounds:
//
//	old → new  Manifest, Batch… (each acked)   the sockets, SendFiles as for the set
//	new → old  Held{n}                         holding all n, serving none yet
//	old → new  Commit{n}                       they are yours: serve them
//
// The old side closes its descriptors only after Commit went out; the new
// side serves nothing it was not committed, and closes what it holds when
// the round fails, so a socket is served by exactly one process at any
// time. Any failure ends moving for this drain: what is left drains where
// it is.

// moveTimeout bounds each step of a round. A next generation that stops
// answering costs the connections of one round this long before they
// drain where they are.
const moveTimeout = 2 * time.Second

// maxRound is the most connections one round carries (40 batches, under
// wire.DefaultMaxFDs): each round costs three scheduled steps, so few
// large rounds beat many small ones when a drain wakes thousands at once.
const maxRound = 40 * wire.MaxFDsPerMessage

// errNoMover: this generation has no next one that takes connections.
var errNoMover = errors.New("upgrader: no next generation takes connections")

// moves is this process's part in moving connections: the inboxes its
// listeners receive moved connections through (new side) and the sender to
// the successor (old side). The zero value is ready.
type moves struct {
	mu      sync.Mutex
	inboxes map[string][]*inbox.Inbox
	packets []*gatedPacketConn // what ListenPacket returned, for probation
	out     *connSender
}

// ConnMover carries idle connections to the next generation during a
// drain; it is what httpdrain.Options.Mover takes. Get it with
// Upgrader.ConnMover.
//
// With a ConnMover passed to httpdrain.Options.Mover, a generation that has
// handed over keeps the connection to the next one open while it drains
// and passes it each idle plaintext HTTP/1.1 connection, socket and all;
// the next generation's listener of the same name (the one Listen
// returned) returns it from Accept like a new one, so the same handler,
// timeouts and ConnState hooks serve it and no client sees the restart.
// Connections travel in rounds: the sockets (batches of at most 252
// descriptors, each acknowledged, every count checked), then the new side
// says it holds them all and the old side commits; the new side serves
// nothing uncommitted and the old side closes its descriptor only after
// the commit, so exactly one process serves a socket at any time, and a
// moved socket is never shut down. Each step has a deadline of a few
// seconds. Child upgrades and takeovers move alike.
//
// The Hello says whether the new generation takes connections, so mixed
// builds still upgrade: an older build does not offer and gets none, and
// as the old side it moves none. When the new side refuses a round, hangs
// up or stops answering, the old side stops moving and drains what it has
// as it would without moving; received descriptors of a failed round are
// closed. Options.DisableConnMoves turns moving off on either side. TLS
// and HTTP/2 connections never move (see the httpdrain documentation for
// why, and for exactly when a connection counts as movable).
type ConnMover struct{ u *Upgrader }

// ConnMover returns the Upgrader's ConnMover. Moving is on unless
// Options.DisableConnMoves is set on either generation.
func (u *Upgrader) ConnMover() *ConnMover { return &ConnMover{u: u} }

// CanMove reports whether connections from ln (a listener returned by
// Listen) can move now: this process has handed over to a generation that
// takes connections, and that sender has not failed.
func (m *ConnMover) CanMove(ln net.Listener) bool {
	ib, ok := ln.(*inbox.Inbox)
	if !ok || !m.u.mv.owns(ib) {
		return false
	}
	out := m.u.mv.sender()
	return out != nil && !out.failed()
}

// Move passes c's socket to the next generation, which serves it from its
// listener of ln's name. It returns nil once the next generation holds the
// socket; the caller then closes c (its own descriptor). Move never reads,
// writes, shuts down or closes c.
func (m *ConnMover) Move(ln net.Listener, c net.Conn) error {
	ib, ok := ln.(*inbox.Inbox)
	if !ok {
		return fmt.Errorf("upgrader: move connection: %T is not a listener from Listen", ln)
	}
	out := m.u.mv.sender()
	if out == nil {
		return errNoMover
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return fmt.Errorf("upgrader: move connection: %T has no descriptor", c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return fmt.Errorf("upgrader: move connection from %s: %w", c.RemoteAddr(), err)
	}
	// No Addr: the new side asks the socket itself, so none is formatted.
	e := wire.Entry{Name: ib.Name(), Network: c.LocalAddr().Network()}
	// Inside Control, Go holds a reference to c's descriptor: its number
	// stays valid for the whole round even if the drain's deadline closes
	// c meanwhile (the close then happens when Control returns). So the
	// descriptor itself travels, with no dup.
	var merr error
	if err := rc.Control(func(fd uintptr) { merr = out.move(e, int(fd)) }); err != nil {
		return fmt.Errorf("upgrader: move connection from %s: %w", c.RemoteAddr(), err)
	}
	return merr
}

// withInbox wraps a listener Listen returns so that moved connections can
// arrive through it, and so that probation can pause its Accept.
func (u *Upgrader) withInbox(name string, ln net.Listener, err error) (net.Listener, error) {
	if err != nil {
		return ln, err
	}
	ib, ierr := inbox.New(name, ln)
	if ierr != nil {
		return ln, nil // serves, but takes no moved connections and accepts on probation
	}
	u.mv.mu.Lock()
	defer u.mv.mu.Unlock()
	if u.mv.inboxes == nil {
		u.mv.inboxes = map[string][]*inbox.Inbox{}
	}
	u.mv.inboxes[name] = append(u.mv.inboxes[name], ib)
	return ib, nil
}

func (m *moves) owns(ib *inbox.Inbox) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range m.inboxes[ib.Name()] {
		if x == ib {
			return true
		}
	}
	return false
}

func (m *moves) sender() *connSender {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.out
}

// pauseAccepting stops every listener Listen returned, the datagram
// sockets ListenPacket returned, and the control socket taking from the
// kernel: on probation the successor takes it all (the sockets are the
// same), and if it dies connections wait in the queue for
// resumeAccepting. Connections moved here still arrive.
func (u *Upgrader) pauseAccepting() { u.setAccepting(false) }

// resumeAccepting undoes pauseAccepting.
func (u *Upgrader) resumeAccepting() { u.setAccepting(true) }

func (u *Upgrader) setAccepting(on bool) {
	ibs, pcs := u.mv.all()
	for _, ib := range ibs {
		if on {
			ib.Resume()
		} else {
			ib.Pause()
		}
	}
	for _, pc := range pcs {
		pc.setPaused(!on)
	}
	u.ctl.setPaused(!on)
}

func (m *moves) all() ([]*inbox.Inbox, []*gatedPacketConn) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ibs []*inbox.Inbox
	for _, l := range m.inboxes {
		ibs = append(ibs, l...)
	}
	return ibs, append([]*gatedPacketConn(nil), m.packets...)
}
