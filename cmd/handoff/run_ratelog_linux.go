package main

import (
	"sync"
	"time"
)

// statusBurst lines of a child's STATUS= are logged per statusWindow;
// past that they are counted and summed up once the window ends, so that
// a child that floods its NOTIFY_SOCKET cannot flood the log (and
// systemd) with it.
const (
	statusBurst  = 5
	statusWindow = time.Second
)

// rateLog lets through at most statusBurst lines per statusWindow and
// remembers the latest of those it held back.
type rateLog struct {
	mu         sync.Mutex
	windowEnd  time.Time
	passed     int
	suppressed int
	latest     string
	flushing   bool
}

// allow reports whether line may be logged now; if not, it is counted,
// and the first held-back line of a window arms flush to run once the
// window ends, with what was held back.
func (r *rateLog) allow(now time.Time, line string, flush func(suppressed int, latest string)) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.After(r.windowEnd) {
		r.windowEnd, r.passed = now.Add(statusWindow), 0
	}
	if r.passed < statusBurst {
		r.passed++
		return true
	}
	r.suppressed++
	r.latest = line
	if !r.flushing {
		r.flushing = true
		time.AfterFunc(r.windowEnd.Sub(now), func() { r.flush(flush) })
	}
	return false
}

// flush hands what was held back to report, which opens a new window.
func (r *rateLog) flush(report func(suppressed int, latest string)) {
	r.mu.Lock()
	n, latest := r.suppressed, r.latest
	r.suppressed, r.latest, r.flushing = 0, "", false
	r.windowEnd, r.passed = time.Now().Add(statusWindow), 1
	r.mu.Unlock()
	if n > 0 {
		report(n, latest)
	}
}
