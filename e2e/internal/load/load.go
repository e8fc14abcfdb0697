// Package load drives an HTTP/1.1 server with clients that never retry:
// each request goes out once on a raw connection, and any error (refused,
// reset, EOF, timeout, a status other than 200) counts as a lost request.
// Go's http.Transport would silently retry an idempotent request on a
// reused connection and hide exactly the failures a restart test counts.
package load

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Mode says how clients use connections.
type Mode string

// The client modes.
const (
	KeepAlive Mode = "keepalive" // one connection for many requests, until the server says close
	NewConn   Mode = "newconn"   // a fresh connection for every request
	Mixed     Mode = "mixed"     // half the clients each way
)

// Config describes a load run. Every run is bounded by MaxDuration and
// MaxRequests, whichever comes first, besides Stop.
type Config struct {
	Addr        string
	Clients     int
	Mode        Mode
	Path        string        // default "/"
	Timeout     time.Duration // per request; default 5s
	MaxDuration time.Duration // default 2 minutes
	MaxRequests int64         // per client; default 1e6
	// Pace, if set, is the pause between one client's requests.
	Pace time.Duration
	// Observe, if set, is called after every request, from the client's
	// goroutine, with when it started and ended, the X-Pid that answered
	// and the error (nil for a 200): for callers that need to know when
	// something happened, not only how often.
	Observe func(start, end time.Time, pid string, err error)
}

// Result sums up a run.
type Result struct {
	OK, Failed int64
	Errors     map[string]int64 // failure kind -> count
	Latencies  []time.Duration  // of successful requests, sorted
	Elapsed    time.Duration
	PIDs       map[string]int64 // X-Pid -> requests answered
}

// Run is a load run in progress.
type Run struct {
	cfg   Config
	stop  chan struct{}
	wg    sync.WaitGroup
	start time.Time

	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       map[string]int64
	lat        []time.Duration
	pids       map[string]int64
}

// Start begins a run.
func Start(cfg Config) *Run {
	cfg = withDefaults(cfg)
	r := &Run{cfg: cfg, stop: make(chan struct{}), start: time.Now(),
		errs: map[string]int64{}, pids: map[string]int64{}}
	for i := range cfg.Clients {
		mode := cfg.Mode
		if mode == Mixed {
			mode = []Mode{KeepAlive, NewConn}[i%2]
		}
		r.wg.Add(1)
		go r.client(mode)
	}
	return r
}

func withDefaults(c Config) Config {
	if c.Path == "" {
		c.Path = "/"
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.MaxDuration <= 0 {
		c.MaxDuration = 2 * time.Minute
	}
	if c.MaxRequests <= 0 {
		c.MaxRequests = 1_000_000
	}
	return c
}

// Counts returns the successes and failures so far.
func (r *Run) Counts() (ok, failed int64) { return r.ok.Load(), r.failed.Load() }

// Stop ends the run, waits for every client and returns the result.
func (r *Run) Stop() Result {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	lat := slices.Clone(r.lat)
	slices.Sort(lat)
	return Result{OK: r.ok.Load(), Failed: r.failed.Load(), Errors: maps(r.errs),
		Latencies: lat, Elapsed: time.Since(r.start), PIDs: maps(r.pids)}
}

func maps(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (r *Run) client(mode Mode) {
	defer r.wg.Done()
	end := time.Now().Add(r.cfg.MaxDuration)
	c := &conn{addr: r.cfg.Addr, mode: mode, timeout: r.cfg.Timeout, path: r.cfg.Path}
	defer c.close()
	for n := int64(0); n < r.cfg.MaxRequests && time.Now().Before(end); n++ {
		select {
		case <-r.stop:
			return
		default:
		}
		t0 := time.Now()
		pid, err := c.do()
		t1 := time.Now()
		r.record(pid, t1.Sub(t0), err)
		if r.cfg.Observe != nil {
			r.cfg.Observe(t0, t1, pid, err)
		}
		if r.cfg.Pace > 0 {
			time.Sleep(r.cfg.Pace)
		}
	}
}

func (r *Run) record(pid string, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.failed.Add(1)
		r.errs[Kind(err)]++
		return
	}
	r.ok.Add(1)
	r.pids[pid]++
	if len(r.lat) < 2_000_000 {
		r.lat = append(r.lat, d)
	}
}

// conn is one client's connection, reopened as the mode and server say.
type conn struct {
	addr    string
	mode    Mode
	path    string
	timeout time.Duration
	nc      net.Conn
	br      *bufio.Reader
}

func (c *conn) close() {
	if c.nc != nil {
		c.nc.Close()
		c.nc, c.br = nil, nil
	}
}

// do sends one request and reads its answer. It never retries.
func (c *conn) do() (string, error) {
	if c.nc == nil {
		nc, err := net.DialTimeout("tcp", c.addr, c.timeout)
		if err != nil {
			return "", fmt.Errorf("dial: %w", err)
		}
		c.nc, c.br = nc, bufio.NewReader(nc)
	}
	c.nc.SetDeadline(time.Now().Add(c.timeout))
	req := "GET " + c.path + " HTTP/1.1\r\nHost: handoff-load\r\n"
	if c.mode == NewConn {
		req += "Connection: close\r\n"
	}
	if _, err := io.WriteString(c.nc, req+"\r\n"); err != nil {
		c.close()
		return "", fmt.Errorf("write: %w", err)
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.close()
		return "", fmt.Errorf("read: %w", err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		c.close()
		return "", errors.Join(fmt.Errorf("status %d", resp.StatusCode), err)
	}
	if resp.Close || c.mode == NewConn {
		c.close()
	}
	return resp.Header.Get("X-Pid"), nil
}

// Kind classifies a failed request for reports.
func Kind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return err.Error()
}

// Percentile returns the p-th percentile (0..100) of sorted durations.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return sorted[i]
}

// Summary is a one-line description of a result.
func (res Result) Summary() string {
	kinds := make([]string, 0, len(res.Errors))
	for k, n := range res.Errors {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(kinds)
	return fmt.Sprintf("ok=%d failed=%d %v pids=%d elapsed=%v", res.OK, res.Failed, kinds,
		len(res.PIDs), res.Elapsed.Round(time.Millisecond))
}
