package quicroute

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
)

// DefaultQueueLen is the default of Options.QueueLen.
const DefaultQueueLen = 1024

// maxBehind bounds how far back a generation number may be for the router
// to look for its socket, so that made-up connection IDs cannot make it
// dial arbitrary paths.
const maxBehind = 64

// retryDead is how long a generation found gone stays unreachable before
// the router looks again (a failed upgrade can reuse its number).
const retryDead = time.Second

// ErrPathInUse says a live process already reads this generation's
// forwarding socket.
var ErrPathInUse = errors.New("quicroute: forwarding socket in use by a live process")

// Options configure a Router.
type Options struct {
	// Generation is this process's generation (upgrader.Generation); it
	// must fit in 32 bits and be at least 1.
	Generation uint64
	// SocketPath says where generation gen receives forwarded packets.
	// Every generation must use the same function. Required; see
	// PathNextTo.
	SocketPath func(gen uint64) string
	// QueueLen bounds the packets waiting for the local transport and,
	// separately, for each generation forwarded to. Default
	// DefaultQueueLen.
	QueueLen int
	// StatelessResetKey, if set, is given to the transport. With one key
	// shared by all generations (for instance in a file inherited through
	// upgrader.File), the newest answers the packets of a generation that
	// died with a stateless reset, and its clients learn at once.
	StatelessResetKey *quic.StatelessResetKey
	// Logger receives the router's events. Default: silent.
	Logger *slog.Logger
}

// PathNextTo returns a SocketPath placing generation g's socket at
// "<control>.quic.<g>", beside the upgrader's control socket.
func PathNextTo(control string) func(gen uint64) string {
	return func(gen uint64) string { return control + ".quic." + strconv.FormatUint(gen, 10) }
}

// Stats counts packets; all counts only grow.
type Stats struct {
	FromShared uint64 // read from the shared UDP socket
	Forwarded  uint64 // queued for another generation
	Received   uint64 // forwarded here by another generation
	Dropped    uint64 // dropped for a full queue: the bound at work
	Late       uint64 // arrived for a transport or generation that had closed (its connections were over)
	Malformed  uint64 // forwarded datagrams that failed validation, or oversize UDP datagrams
}

// Router routes one generation's QUIC packets. Create it with New, serve
// QUIC on Transport, call Retire when this generation hands over (at
// upgrader's Exit), and Close once its connections are done.
type Router struct {
	opts   Options
	gen    uint32
	log    *slog.Logger
	shared net.PacketConn
	conn   *routedConn
	tr     *quic.Transport
	fwd    *net.UnixConn
	path   string
	wg     sync.WaitGroup

	retireOnce, closeOnce sync.Once
	retired               atomic.Bool

	mu     sync.Mutex
	peers  map[uint32]*peer // guarded by mu
	closed bool             // guarded by mu; no new peers once set

	fromShared, forwarded, received, dropped, late, malformed atomic.Uint64
}

// New starts routing for this generation. shared is the UDP socket all
// generations hold (upgrader.ListenPacket); the Router reads it until
// Retire and writes to it until Close, but does not close it: the caller
// owns it. New binds this generation's forwarding socket at
// opts.SocketPath(opts.Generation), removing a stale file a killed process
// left there.
func New(shared net.PacketConn, opts Options) (*Router, error) {
	if opts.Generation == 0 || opts.Generation > math.MaxUint32 {
		return nil, fmt.Errorf("quicroute: generation %d is not in 1..%d", opts.Generation, uint32(math.MaxUint32))
	}
	if opts.SocketPath == nil {
		return nil, errors.New("quicroute: Options.SocketPath is required")
	}
	if opts.QueueLen <= 0 {
		opts.QueueLen = DefaultQueueLen
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := &Router{opts: opts, gen: uint32(opts.Generation), log: opts.Logger, shared: shared,
		path: opts.SocketPath(opts.Generation), peers: map[uint32]*peer{}}
	fwd, err := bindForward(r.path)
	if err != nil {
		return nil, err
	}
	r.fwd = fwd
	r.conn = newRoutedConn(shared, opts.QueueLen, &r.dropped, &r.late)
	r.tr = &quic.Transport{Conn: r.conn, ConnectionIDGenerator: genIDs{r.gen},
		StatelessResetKey: opts.StatelessResetKey}
	r.wg.Add(2)
	go r.readShared()
	go r.readForwarded()
	return r, nil
}

// bindForward listens for forwarded datagrams at path, mode 0600.
func bindForward(path string) (*net.UnixConn, error) {
	addr := &net.UnixAddr{Name: path, Net: "unixgram"}
	if c, err := net.DialUnix("unixgram", nil, addr); err == nil {
		c.Close()
		return nil, fmt.Errorf("%w: %s", ErrPathInUse, path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("quicroute: remove stale socket: %w", err)
	}
	c, err := net.ListenUnixgram("unixgram", addr)
	if err != nil {
		return nil, fmt.Errorf("quicroute: bind forwarding socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		c.Close()
		return nil, fmt.Errorf("quicroute: forwarding socket: %w", err)
	}
	return c, nil
}

// Transport is the quic.Transport this generation serves on (Listen,
// ListenEarly). Its connection IDs carry the generation. Close the
// listener and shut the server down before Router.Close.
func (r *Router) Transport() *quic.Transport { return r.tr }

// Generation is the generation this router routes for.
func (r *Router) Generation() uint64 { return uint64(r.gen) }

// Retire stops reading the shared socket: a newer generation reads it now
// and forwards this one's packets here. Call it when the upgrader's Exit
// closes; it is safe to call more than once.
func (r *Router) Retire() {
	r.retireOnce.Do(func() {
		r.retired.Store(true)
		r.shared.SetReadDeadline(time.Now())
		r.log.Info("quic: retired; reading forwarded packets only", "socket", r.path)
	})
}

// Close closes the transport (cutting any connection still open), stops
// forwarding in both directions and removes this generation's socket
// file. It does not close the shared socket.
func (r *Router) Close() error {
	r.closeOnce.Do(func() {
		r.Retire()
		r.tr.Close()
		r.conn.Close()
		r.fwd.Close()
		os.Remove(r.path)
		r.mu.Lock()
		r.closed = true
		for gen, p := range r.peers {
			p.stop()
			delete(r.peers, gen)
		}
		r.mu.Unlock()
		r.wg.Wait()
		s := r.Stats()
		r.log.Info("quic: router closed", "from_shared", s.FromShared, "forwarded", s.Forwarded,
			"received", s.Received, "dropped", s.Dropped, "late", s.Late, "malformed", s.Malformed)
	})
	return nil
}

// Stats returns the counts so far.
func (r *Router) Stats() Stats {
	return Stats{FromShared: r.fromShared.Load(), Forwarded: r.forwarded.Load(),
		Received: r.received.Load(), Dropped: r.dropped.Load(), Late: r.late.Load(), Malformed: r.malformed.Load()}
}
