//go:build linux

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// pooled is a set of keep-alive clients that each hold one connection and
// send a request now and then: the clients of a pool with no background
// reader (check false: they write on the pooled connection as it is) or of
// one that checks a connection before reuse (check true: a closed one is
// replaced first, as Go's Transport does). Clients never retry: a request
// that gets no 200 is lost. A connection the server closed, or answered
// with Connection: close, is replaced on the next request: a redial.
type pooled struct {
	addr    string
	check   bool
	pause   time.Duration // mean time between one client's requests (±10%)
	stop    chan struct{}
	wg      sync.WaitGroup
	ok      atomic.Int64
	lost    atomic.Int64
	redials atomic.Int64
	dialErr atomic.Int64
	mu      sync.Mutex
	errs    map[string]int64
}

// startPooled opens n connections (at most 200 dials at a time) and starts
// their clients, each with a random phase. It returns once every
// connection has been answered once.
func startPooled(addr string, n int, check bool, pause time.Duration, end time.Time) (*pooled, error) {
	p := &pooled{addr: addr, check: check, pause: pause, stop: make(chan struct{}), errs: map[string]int64{}}
	conns := make([]*idleConn, n)
	sem := make(chan struct{}, 200)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := dialIdle(addr)
			if err == nil {
				err = c.get()
			}
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		for _, c := range conns {
			c.close()
		}
		return nil, fmt.Errorf("open %d idle connections: %w", n, err)
	}
	for _, c := range conns {
		p.wg.Add(1)
		go p.client(c, end)
	}
	return p, nil
}

// client runs one connection until stop or end.
func (p *pooled) client(c *idleConn, end time.Time) {
	defer p.wg.Done()
	defer func() { c.close() }()
	t := time.NewTimer(time.Duration(rand.Int64N(int64(p.pause))))
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		if time.Now().After(end) {
			return
		}
		c = p.once(c)
		jitter := time.Duration(rand.Int64N(int64(p.pause/5))) - p.pause/10
		t.Reset(p.pause + jitter)
	}
}

// once sends one request, replacing the connection first when needed, and
// returns the connection to use next time (nil: dial then).
func (p *pooled) once(c *idleConn) *idleConn {
	if c != nil && p.check && !c.alive() {
		c.close()
		c = nil
	}
	if c == nil {
		nc, err := dialIdle(p.addr)
		if err != nil {
			p.dialErr.Add(1)
			p.fail(err)
			return nil
		}
		p.redials.Add(1)
		c = nc
	}
	if err := c.get(); err != nil {
		p.fail(err)
		c.close()
		return nil
	}
	p.ok.Add(1)
	if c.closing {
		c.close()
		return nil
	}
	return c
}

func (p *pooled) fail(err error) {
	p.lost.Add(1)
	kind := "other"
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		kind = "EOF"
	case errors.Is(err, os.ErrDeadlineExceeded):
		kind = "timeout"
	case errors.Is(err, errStatus):
		kind = "status"
	case errors.Is(err, syscall.ECONNRESET):
		kind = "reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		kind = "refused"
	case errors.Is(err, syscall.EPIPE):
		kind = "broken pipe"
	}
	p.mu.Lock()
	p.errs[kind]++
	p.mu.Unlock()
}

// finish stops every client and returns the counts.
func (p *pooled) finish() pooledResult {
	close(p.stop)
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return pooledResult{OK: p.ok.Load(), Lost: p.lost.Load(), Redials: p.redials.Load(), Errors: p.errs}
}

// pooledResult is what a pool saw.
type pooledResult struct {
	OK      int64            `json:"ok"`
	Lost    int64            `json:"lost"`
	Redials int64            `json:"redials"`
	Errors  map[string]int64 `json:"errors,omitempty"`
}

// idleConn is one client connection speaking HTTP/1.1 by hand.
type idleConn struct {
	c       net.Conn
	r       *bufio.Reader
	closing bool // the last answer said Connection: close
}

func dialIdle(addr string) (*idleConn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &idleConn{c: c, r: bufio.NewReader(c)}, nil
}

var errStatus = errors.New("status other than 200")

func (c *idleConn) get() error {
	c.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c.c, "GET / HTTP/1.1\r\nHost: bench\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s", errStatus, resp.Status)
	}
	c.closing = resp.Close
	return nil
}

// alive is the check before reuse: a peek that must not wait tells a
// connection the server has closed (EOF, or bytes nobody asked for) from
// an open one (nothing to read). A read deadline in the past would not do:
// Go reports the timeout without looking at the socket.
func (c *idleConn) alive() bool {
	if c.r.Buffered() > 0 {
		return false
	}
	c.c.SetReadDeadline(time.Time{}) // the last request's deadline may have passed: RawConn.Read would refuse
	rc, err := c.c.(syscall.Conn).SyscallConn()
	if err != nil {
		return false
	}
	var n int
	var perr error
	var buf [1]byte
	if err := rc.Read(func(fd uintptr) bool {
		n, _, perr = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // never wait
	}); err != nil {
		return false
	}
	return n <= 0 && errors.Is(perr, syscall.EAGAIN) // EOF is n == 0 with no error
}

func (c *idleConn) close() {
	if c != nil {
		c.c.Close()
	}
}
