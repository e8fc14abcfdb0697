package control

import (
	"encoding/json"
	"time"

	"github.com/handoff-go/handoff/listeners"
)

// State is where a generation is in its life.
type State string

// The states, in the order a generation passes through them.
const (
	StateStarting  State = "starting"  // started; not ready yet
	StateReadying  State = "readying"  // finishing the handoff from its predecessor
	StateServing   State = "serving"   // ready; no upgrade running
	StateUpgrading State = "upgrading" // an upgrade or takeover is running
	// StateProbation: the successor is ready and serves; this generation
	// stopped accepting but keeps its sockets and its connections, and
	// watches the successor. If it dies or gives the service back in
	// time, this generation serves again (the upgrade rolled back);
	// otherwise it drains.
	StateProbation State = "probation"
	// StateDraining: this generation has handed its sockets over (or
	// must go because its Ready was refused) and finishes what it has in
	// flight. Status.Draining lists the older generations in this state.
	StateDraining State = "draining"
	StateStopped  State = "stopped" // stopped
)

// Peer is another generation of a server. Start is its start time as the
// kernel counts it, so that a reused pid does not pass for it; it is 0
// where the platform does not say.
type Peer struct {
	PID        int    `json:"pid"`
	Generation uint64 `json:"generation"`
	Start      uint64 `json:"start,omitempty"`
}

// UpgradeRecord describes the last upgrade a server attempted.
type UpgradeRecord struct {
	At     time.Time `json:"at"`
	NewPID int       `json:"new_pid,omitempty"`
	Error  string    `json:"error,omitempty"`
	// RolledBack says the new process became ready, then died or gave the
	// service back during probation, and this one serves again; Error
	// says why.
	RolledBack bool `json:"rolled_back,omitempty"`
}

// Status describes the serving generation of a server.
type Status struct {
	PID         int              `json:"pid"`
	Generation  uint64           `json:"generation"`
	Mode        string           `json:"mode"` // how it started: cold, child or takeover
	State       State            `json:"state"`
	Listeners   []listeners.Info `json:"listeners"`
	Draining    []Peer           `json:"draining"` // older generations in StateDraining
	MaxDraining int              `json:"max_draining"`
	LastUpgrade *UpgradeRecord   `json:"last_upgrade,omitempty"`
	// Detail is what the server adds about itself, as JSON: a `handoff
	// run` supervisor lists its children there.
	Detail json.RawMessage `json:"detail,omitempty"`

	// One answer carries at most a frame's worth of listeners: Listeners
	// holds ListenersTotal's [ListenersFrom, ...). Client.Status asks for
	// the rest and returns them all.
	ListenersFrom  int `json:"listeners_from,omitempty"`
	ListenersTotal int `json:"listeners_total"`
}

// Progress is one step of an upgrade, as the server reports it.
type Progress struct {
	Event  string `json:"event"` // one of the Event constants, or the server's own
	PID    int    `json:"pid,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Steps of an upgrade (Progress.Event), in order.
const (
	EventUpgrading  = "upgrading"   // the serving process (PID) began an upgrade
	EventStarted    = "started"     // the new process (PID) is running
	EventHandedOver = "handed-over" // every socket has been passed and acknowledged
	EventReady      = "ready"       // the new process (PID) serves
	EventDraining   = "draining"    // the old process (PID) stopped accepting
	// EventProbation: the old process (PID) stopped accepting and watches
	// the new one for the probation period (Detail) before it drains.
	EventProbation = "probation"
	// EventPassed: the new process (PID) passed probation.
	EventPassed = "passed"
)

// Result is a server's answer to an upgrade or a stop.
type Result struct {
	OK    bool   `json:"ok"`
	PID   int    `json:"pid,omitempty"`  // the new process after an upgrade; the one stopping after a stop
	Code  string `json:"code,omitempty"` // one of the Code constants when !OK
	Error string `json:"error,omitempty"`
}

// Why a request was not granted (Result.Code).
const (
	CodeFailed          = "failed"            // the upgrade was tried and failed
	CodeInProgress      = "in-progress"       // another upgrade or takeover runs
	CodeNotReady        = "not-ready"         // the server is not ready yet
	CodeStopping        = "stopping"          // the server is stopping
	CodeHandedOver      = "handed-over"       // the server has already handed over
	CodeTooManyDraining = "too-many-draining" // older generations still drain
	CodeUnsupported     = "unsupported"       // the platform cannot hand over
	// CodeRolledBack: the new process became ready, then died or gave the
	// service back in probation; the old process serves again.
	CodeRolledBack = "rolled-back"
	// CodeOnProbation: the server is the old side of an upgrade on
	// probation; ask the new process, which upgrades once it passes.
	CodeOnProbation = "on-probation"
)
