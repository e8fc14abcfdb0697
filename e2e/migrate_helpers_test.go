//go:build linux

package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/harness"
)

// moveBins are the extra binaries of the connection-move tests.
var moveBins struct {
	noMove   string // the demo built with -move-conns off by default: an older build
	fakeNext string // a next generation that fails mid-move (e2e/internal/fakenext)
}

// moveBuilds adds moveBins to TestMain's builds.
func moveBuilds(dir string) []harness.Target {
	moveBins.noMove = filepath.Join(dir, "demo-nomove")
	moveBins.fakeNext = filepath.Join(dir, "fakenext")
	return []harness.Target{
		{Out: moveBins.noMove, Pkg: "github.com/handoff-go/handoff/examples/demo",
			Flags: []string{"-ldflags", "-X main.moveConnsDefault=false"}},
		{Out: moveBins.fakeNext, Pkg: "github.com/handoff-go/handoff/e2e/internal/fakenext"},
	}
}

// rawConn is one client connection that never redials, so whatever
// answers on it is the same socket.
type rawConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{c: c, r: bufio.NewReader(c)}
}

func (rc *rawConn) port() int { return rc.c.LocalAddr().(*net.TCPAddr).Port }

// answer is one response as a raw client sees it.
type answer struct {
	pid, id string
	closing bool // the server said Connection: close
}

// get sends GET / with X-Id: id and reads the answer.
func (rc *rawConn) get(id string) (answer, error) {
	rc.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(rc.c, "GET / HTTP/1.1\r\nHost: demo\r\nX-Id: %s\r\n\r\n", id); err != nil {
		return answer{}, fmt.Errorf("write: %w", err)
	}
	return rc.read()
}

func (rc *rawConn) read() (answer, error) {
	resp, err := http.ReadResponse(rc.r, nil)
	if err != nil {
		return answer{}, fmt.Errorf("read: %w", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return answer{}, fmt.Errorf("status %s", resp.Status)
	}
	return answer{pid: resp.Header.Get("X-Pid"), id: resp.Header.Get("X-Id"), closing: resp.Close}, nil
}

// mustGet is get that fails the test on error or a wrong id.
func (rc *rawConn) mustGet(t *testing.T, id string) answer {
	t.Helper()
	a, err := rc.get(id)
	if err != nil {
		t.Fatalf("conn from port %d, request %s: %v", rc.port(), id, err)
	}
	if a.id != id {
		t.Fatalf("conn from port %d: answer for request %q; want %q", rc.port(), a.id, id)
	}
	return a
}

// waitEOF waits until the server closes rc without being asked anything.
func (rc *rawConn) waitEOF(within time.Duration) error {
	rc.c.SetReadDeadline(time.Now().Add(within))
	b, err := rc.r.ReadByte()
	if err == io.EOF {
		return nil
	}
	return fmt.Errorf("got byte %q, err %v; want EOF", b, err)
}

// holder reports which of pids holds the server end of rc, 0 if none.
func holder(addr string, rc *rawConn, pids ...int) int {
	ino, ok := harness.ServerInode(addr, rc.port())
	if !ok {
		return 0
	}
	for _, p := range pids {
		if harness.SocketInodes(p)[ino] {
			return p
		}
	}
	return 0
}

func itoa(n int) string { return strconv.Itoa(n) }

// clientLoops are client goroutines that each send requests until
// stopped; sent counts the requests answered.
type clientLoops struct {
	stop atomic.Bool
	sent atomic.Int64
	wg   sync.WaitGroup
	errs chan error
}

// startLoops starts n goroutines running loop, which returns the error
// that ended it, or nil once l.stop is set.
func startLoops(n int, loop func(i int, l *clientLoops) error) *clientLoops {
	l := &clientLoops{errs: make(chan error, n)}
	for i := range n {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.errs <- loop(i, l)
		}()
	}
	return l
}

// waitSent waits until the loops have had n more requests answered.
func (l *clientLoops) waitSent(t *testing.T, n int64) {
	t.Helper()
	from := l.sent.Load()
	if err := harness.Poll(20*time.Second, func() bool { return l.sent.Load() >= from+n }); err != nil {
		t.Fatalf("clients stuck at %d requests: %v", l.sent.Load(), err)
	}
}

// upgradeEach upgrades d times times from its first generation, each
// once the old one has exited 0, with every more requests answered after
// each upgrade.
func (l *clientLoops) upgradeEach(t *testing.T, d *demoProc, times int, every int64) {
	t.Helper()
	pid := d.first
	for range times {
		pid = d.upgradeTo(t, pid)
		l.waitSent(t, every)
	}
}

// finish stops the loops, waits for them and fails t with every error
// they returned.
func (l *clientLoops) finish(t *testing.T) {
	t.Helper()
	l.stop.Store(true)
	l.wg.Wait()
	close(l.errs)
	for err := range l.errs {
		if err != nil {
			t.Error(err)
		}
	}
}
