//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// event is one line of the -events file: a lifecycle point of one
// generation, stamped by the process it happened in. Every generation
// appends to the same file, so a reader sees the whole history of an
// upgrade without reading any log text.
type event struct {
	Event string    `json:"event"` // started, ready, upgrading, refused, exiting
	PID   int       `json:"pid"`
	Time  time.Time `json:"time"`
	Error string    `json:"error,omitempty"` // why an upgrade was refused
}

// events appends events to a file; a nil *events records nothing.
type events struct {
	mu sync.Mutex
	f  *os.File
}

// openEvents opens path for appending; the caller closes it with close.
func openEvents(path string) (*events, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("events file: %w", err)
	}
	return &events{f: f}, nil
}

// note appends one event. Each line goes out in one write on an O_APPEND
// file, so the lines of generations writing at once do not interleave.
func (e *events) note(name string, err error) {
	if e == nil {
		return
	}
	ev := event{Event: name, PID: os.Getpid(), Time: time.Now()}
	if err != nil {
		ev.Error = err.Error()
	}
	b, _ := json.Marshal(ev) // a struct of strings, an int and a time
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.f != nil {
		e.f.Write(append(b, '\n'))
	}
}

// close closes the file; a note that comes later (an upgrade goroutine
// racing the exit) is dropped.
func (e *events) close() {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.f.Close()
	e.f = nil
}
