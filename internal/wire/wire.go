package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Version is the protocol version this build speaks. It travels in every
// frame header; a frame of another version is refused with a *VersionError.
// See PROTOCOL.md §11 for how the protocol grows within a version.
const Version = 1

const (
	// MaxFDsPerMessage is the most descriptors sent in one sendmsg. The
	// kernel allows 253 (SCM_MAX_FD); 252 is the portable figure HAProxy uses.
	MaxFDsPerMessage = 252
	// DefaultMaxFDs bounds the descriptors one handoff may announce.
	DefaultMaxFDs = 16384
	// MaxFrameSize bounds a frame body in bytes.
	MaxFrameSize = 1 << 20
	// MaxNameLen bounds an Entry's Name, Network and Addr.
	MaxNameLen = 1024
	// DefaultTimeout is the deadline of each read or write on a Conn.
	// PROTOCOL.md §9 lists every deadline of the protocol.
	DefaultTimeout = 10 * time.Second
)

// Type says what a frame's body holds.
type Type uint8

// Frame types. The numbers are part of the protocol: never renumber.
// PROTOCOL.md §3 gives each one's body and direction.
const (
	TypeHello     Type = 1  // Hello, both ways, first thing on a connection
	TypeManifest  Type = 2  // Manifest, old to new: how many fds follow
	TypeBatch     Type = 3  // Batch with up to MaxFDsPerMessage fds attached
	TypeAck       Type = 4  // Ack of one Batch
	TypeReady     Type = 5  // Ready, new to old: serving, stop accepting
	TypeReadyAck  Type = 6  // ReadyAck, old to new: you own the set now
	TypeAbort     Type = 7  // Abort, either way: giving up, with the reason
	TypeRequest   Type = 8  // Request, client to server on the control socket
	TypeStatus    Type = 9  // status report (body defined by the caller)
	TypeProgress  Type = 10 // Progress of an upgrade, server to client
	TypeResult    Type = 11 // Result of a request, server to client
	TypeHeld      Type = 12 // Conns, new to old: holds the round's connections, not serving them yet
	TypeCommit    Type = 13 // Conns, old to new: the held connections are yours to serve
	TypeProbation Type = 14 // Probation, either way: how the new side's probation ended
	maxKnownType       = TypeProbation
)

var typeNames = [...]string{
	TypeHello:     "hello",
	TypeManifest:  "manifest",
	TypeBatch:     "batch",
	TypeAck:       "ack",
	TypeReady:     "ready",
	TypeReadyAck:  "ready-ack",
	TypeAbort:     "abort",
	TypeRequest:   "request",
	TypeStatus:    "status",
	TypeProgress:  "progress",
	TypeResult:    "result",
	TypeHeld:      "held",
	TypeCommit:    "commit",
	TypeProbation: "probation",
}

// String names t for errors and logs: "hello", "batch", ..., or "type(42)"
// for a number this version does not know.
func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// known reports whether t is a type this version can parse.
func (t Type) known() bool { return t != 0 && t <= maxKnownType }

// EnvFD names the environment variable that tells a child which of its fds
// is its end of the control socketpair (PROTOCOL.md §1).
const EnvFD = "HANDOFF_FD"

// Control operations a client may request (Request.Op); PROTOCOL.md §8
// gives each one's conversation.
const (
	OpStatus   = "status"
	OpUpgrade  = "upgrade"
	OpTakeover = "takeover"
	OpStop     = "stop" // the serving generation drains and exits
)

// Progress events of an upgrade (Progress.Event), in order (PROTOCOL.md §8.2).
const (
	// EventReceived: the server has read the request and, unless the
	// client has hung up by now, carries it out. Sent only to a client
	// whose Request set Ack, before any other answer (PROTOCOL.md §8).
	EventReceived   = "received"
	EventUpgrading  = "upgrading"   // the serving process (PID) began an upgrade
	EventStarted    = "started"     // the new process (PID) is running
	EventHandedOver = "handed-over" // every fd has been passed and acked
	EventReady      = "ready"       // the new process serves
	EventDraining   = "draining"    // the old process stopped accepting
	EventProbation  = "probation"   // the old process watches the new one (Detail: how long)
	EventPassed     = "passed"      // the new process passed probation
)

// Result codes (Result.Code) say why a request failed, for callers that
// branch on it; Result.Error says it for people. A client treats a code it
// does not know as CodeFailed (PROTOCOL.md §3).
const (
	CodeFailed          = "failed"            // the upgrade was tried and failed
	CodeInProgress      = "in-progress"       // another upgrade or takeover runs
	CodeNotReady        = "not-ready"         // the server has not called Ready yet
	CodeStopping        = "stopping"          // the server is stopping
	CodeHandedOver      = "handed-over"       // the server has already handed over
	CodeTooManyDraining = "too-many-draining" // older generations still drain
	CodeUnsupported     = "unsupported"       // the platform cannot hand over
	CodeRolledBack      = "rolled-back"       // the new process failed its probation
	CodeOnProbation     = "on-probation"      // the server watches a new one on probation
)

// Hello opens a handoff in both directions; PROTOCOL.md §5 says what each
// side checks of the other's.
type Hello struct {
	PID        int    `json:"pid"`
	Generation uint64 `json:"generation"`
	// Draining lists older generations that are still draining, so that a
	// new process knows how many are alive. Sent by the old process only.
	Draining []Peer `json:"draining,omitempty"`
	// Conns says the sender (a new process) takes idle connections after
	// Ready. A build that does not know the field never offers it.
	Conns bool `json:"conns,omitempty"`
	// Probation says the sender (a new process) understands Probation
	// frames. An old process watches a successor that does not offer it
	// all the same, but tells it nothing.
	Probation bool `json:"probation,omitempty"`
}

// ReadyAck answers Ready. ProbationMS, when positive, says the old
// process keeps its sockets that long and serves again if the new one
// dies or gives the service back (PROTOCOL.md §6); a build that does not
// know the field sends {} and drains at once.
type ReadyAck struct {
	ProbationMS int64 `json:"probation_ms,omitempty"`
}

// Probation ends a probation: the old side says OutcomePassed; the new
// side says OutcomeGaveBack (serve again, Reason says why) or
// OutcomeStopping (it stops on purpose: do not serve again).
type Probation struct {
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
}

// Probation outcomes.
const (
	OutcomePassed   = "passed"
	OutcomeGaveBack = "gave-back"
	OutcomeStopping = "stopping"
)

// Peer identifies a process of another generation. Start, when set, is
// the process's start time as the kernel counts it (Linux: clock ticks
// since boot), so that a pid the kernel has reused is told apart.
type Peer struct {
	PID        int    `json:"pid"`
	Generation uint64 `json:"generation"`
	Start      uint64 `json:"start,omitempty"`
}

// Manifest announces how many fds the sender is about to pass.
type Manifest struct {
	Count int `json:"count"`
}

// Entry describes one descriptor in a handoff. The receiver must not trust
// it: it says what the sender claims the fd is. PROTOCOL.md §3 lists the
// networks and when Addr may be empty.
type Entry struct {
	Name    string `json:"name"`
	Network string `json:"network"`
	Addr    string `json:"addr,omitempty"`
}

// Batch carries the descriptions of the fds attached to its frame, in the
// order of the fds. Seq counts batches from 0 within one handoff.
type Batch struct {
	Seq     int     `json:"seq"`
	Entries []Entry `json:"entries"`
}

// Ack acknowledges batch Seq, which carried Count fds.
type Ack struct {
	Seq   int `json:"seq"`
	Count int `json:"count"`
}

// Conns counts the connections of one round of a connection move: the body
// of Held and Commit (PROTOCOL.md §7).
type Conns struct {
	Count int `json:"count"`
}

// Ready tells the old process that the new one serves; the old one answers
// ReadyAck and only then stops accepting (PROTOCOL.md §6).
type Ready struct {
	PID int `json:"pid"`
}

// Abort ends a conversation with a reason the peer should report.
type Abort struct {
	Reason string `json:"reason"`
}

// Request asks a control server for something: Op is one of the Op
// constants (status, upgrade, takeover, stop). For OpStatus, From is the
// index of the first listener to list: a status with more listeners than
// fit in one frame comes in pages (PROTOCOL.md §8.1). Ack asks the
// server to say EventReceived first, so that a client that gives up
// waiting can tell whether its request will be carried out (§8).
type Request struct {
	Op   string `json:"op"`
	From int    `json:"from,omitempty"`
	Ack  bool   `json:"ack,omitempty"`
}

// Progress reports one step of an upgrade.
type Progress struct {
	Event  string `json:"event"`
	PID    int    `json:"pid,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Result is the last message of a request.
type Result struct {
	OK    bool   `json:"ok"`
	PID   int    `json:"pid,omitempty"`
	Code  string `json:"code,omitempty"` // one of the Code constants when !OK
	Error string `json:"error,omitempty"`
}

// Errors a caller can branch on. Errors returned by this package wrap one
// of these (or an error from the net or os packages) with what was wrong;
// the texts carry no package prefix because every operation adds "wire:"
// and its name once.
var (
	ErrFrameTooLarge = errors.New("frame too large")
	ErrMalformed     = errors.New("malformed frame")
	ErrUnexpected    = errors.New("unexpected message")
	ErrTooManyFDs    = errors.New("too many fds")
	ErrFDMismatch    = errors.New("fd count mismatch")
	ErrTruncated     = errors.New("control message truncated (MSG_CTRUNC)")
	ErrClosed        = errors.New("connection closed by peer")
)

// VersionError is returned when the peer's frame has another version.
type VersionError struct {
	Got, Want int
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("peer speaks protocol version %d; this side speaks %d", e.Got, e.Want)
}

// AbortError is returned by Expect and RecvFiles when the peer sent Abort.
type AbortError struct {
	Reason string
}

func (e *AbortError) Error() string { return "peer aborted: " + e.Reason }

// Msg is one received frame.
type Msg struct {
	Type Type
	Body []byte
}

// Decode unmarshals the body into v.
func (m Msg) Decode(v any) error {
	if err := json.Unmarshal(m.Body, v); err != nil {
		return fmt.Errorf("%w: %s body: %v", ErrMalformed, m.Type, err)
	}
	return nil
}

// Cred is the identity of the process at the other end of a Conn.
type Cred struct {
	PID int // 0 where the platform does not report it
	UID int
	GID int
}
