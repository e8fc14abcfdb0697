//go:build unix

package httpdrain_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/handoff-go/handoff/httpdrain"
	"github.com/handoff-go/handoff/internal/testutil"
)

// dupListener returns a second listener on root's socket, as a successor
// process would hold after a handoff. It goes through SyscallConn, not
// File, which would switch the socket to blocking mode.
func dupListener(t *testing.T, root *net.TCPListener) net.Listener {
	t.Helper()
	rc, err := root.SyscallConn()
	if err != nil {
		t.Fatalf("SyscallConn: %v", err)
	}
	var fd int
	var dupErr error
	err = rc.Control(func(s uintptr) {
		syscall.ForkLock.RLock()
		defer syscall.ForkLock.RUnlock()
		if fd, dupErr = syscall.Dup(int(s)); dupErr == nil {
			syscall.CloseOnExec(fd)
		}
	})
	if err != nil || dupErr != nil {
		t.Fatalf("dup listener: %v, %v", err, dupErr)
	}
	f := os.NewFile(uintptr(fd), "dup")
	defer f.Close() // FileListener holds its own descriptor
	ln, err := net.FileListener(f)
	if err != nil {
		t.Fatalf("FileListener: %v", err)
	}
	return ln
}

// generation is one Server serving root's socket; its handler names it.
func startGeneration(t *testing.T, root *net.TCPListener, gen int) *serving {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Gen", strconv.Itoa(gen))
		fmt.Fprint(w, "ok")
	})
	s := httpdrain.New(&http.Server{Handler: h}, httpdrain.Options{Deadline: waitLimit})
	return startServe(t, s, dupListener(t, root))
}

// handoff starts the next generation, then drains cur, as the upgrader does
// once the new process is ready.
func handoff(t *testing.T, root *net.TCPListener, cur *serving, gen int) *serving {
	t.Helper()
	next := startGeneration(t, root, gen)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := cur.s.Drain(ctx); err != nil {
		t.Errorf("handoff to generation %d: Drain = %v; want nil", gen, err)
	}
	if err := cur.wait(t); err != nil {
		t.Errorf("handoff to generation %d: Serve = %v; want nil", gen, err)
	}
	return next
}

// loadClient sends requests until stopped, without retrying, over one
// keep-alive connection at a time or a new connection per request.
type loadClient struct {
	addr      string
	keepAlive bool
	maxReqs   int
	progress  *atomic.Int64

	ok, lost   int
	firstLoss  error
	lastByGen  map[string]bool // generation -> last response from it had Connection: close
	reconnects int
}

func (lc *loadClient) run(stop <-chan struct{}) {
	lc.lastByGen = map[string]bool{}
	var c *testutil.RawConn
	defer func() {
		if c != nil {
			c.Conn.Close()
		}
	}()
	for i := 0; i < lc.maxReqs; i++ {
		select {
		case <-stop:
			return
		default:
		}
		c = lc.once(c)
	}
}

// once sends one request on c (or a new connection) and returns the
// connection to use next, nil when the server asked to close it.
func (lc *loadClient) once(c *testutil.RawConn) *testutil.RawConn {
	if c == nil {
		var err error
		if c, err = testutil.DialRaw(lc.addr); err != nil {
			lc.loss(err)
			return nil
		}
		lc.reconnects++
	}
	resp, _, err := c.Get("/")
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	if err != nil {
		lc.loss(err)
		c.Conn.Close()
		return nil
	}
	lc.ok++
	lc.progress.Add(1)
	lc.lastByGen[resp.Header.Get("X-Gen")] = resp.Close
	if resp.Close || !lc.keepAlive {
		c.Conn.Close()
		return nil
	}
	return c
}

func (lc *loadClient) loss(err error) {
	lc.lost++
	if lc.firstLoss == nil {
		lc.firstLoss = err
	}
}

// startLoad runs clients until the returned stop function is called (also
// at cleanup); stop returns them once they have all ended.
func startLoad(t *testing.T, addr string, n int, keepAlive func(i int) bool) (progress *atomic.Int64, stop func() []*loadClient) {
	progress = new(atomic.Int64)
	stopCh := make(chan struct{})
	clients := make([]*loadClient, n)
	var wg sync.WaitGroup
	for i := range clients {
		clients[i] = &loadClient{addr: addr, keepAlive: keepAlive(i), maxReqs: 5000, progress: progress}
		wg.Add(1)
		go func() {
			defer wg.Done()
			clients[i].run(stopCh)
		}()
	}
	var once sync.Once
	stop = func() []*loadClient {
		once.Do(func() { close(stopCh) })
		wg.Wait()
		return clients
	}
	t.Cleanup(func() { stop() })
	return progress, stop
}

// waitProgress waits until the clients have completed n more requests, so
// that every handoff happens under traffic.
func waitProgress(t *testing.T, progress *atomic.Int64, n int64) {
	t.Helper()
	want := progress.Load() + n
	for end := time.Now().Add(waitLimit); progress.Load() < want; {
		if time.Now().After(end) {
			t.Fatalf("clients completed %d requests; want %d within %v", progress.Load(), want, waitLimit)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestKeepAliveClientAcrossDrains(t *testing.T) {
	const drains = 5
	root := listenTCP(t)
	cur := startGeneration(t, root, 0)
	progress, stop := startLoad(t, root.Addr().String(), 1, func(int) bool { return true })
	for gen := 1; gen <= drains; gen++ {
		waitProgress(t, progress, 3)
		cur = handoff(t, root, cur, gen)
	}
	waitProgress(t, progress, 3)
	lc := stop()[0]
	if lc.lost != 0 {
		t.Errorf("lost %d of %d requests; want 0 (first: %v)", lc.lost, lc.lost+lc.ok, lc.firstLoss)
	}
	if lc.reconnects < drains+1 {
		t.Errorf("client connected %d times; want at least %d (one per drain)", lc.reconnects, drains+1)
	}
	for gen := 0; gen < drains; gen++ {
		if closed, ok := lc.lastByGen[strconv.Itoa(gen)]; !ok || !closed {
			t.Errorf("generation %d: last response had Connection: close = %v (seen %v); want true", gen, closed, ok)
		}
	}
}

// TestHandoffsUnderLoad is the core property: non-retrying clients lose
// nothing while Server generations hand one socket over again and again.
func TestHandoffsUnderLoad(t *testing.T) {
	const clients, handoffs = 16, 20
	root := listenTCP(t)
	cur := startGeneration(t, root, 0)
	progress, stop := startLoad(t, root.Addr().String(), clients, func(i int) bool { return i%2 == 0 })
	for gen := 1; gen <= handoffs; gen++ {
		waitProgress(t, progress, 2*clients)
		cur = handoff(t, root, cur, gen)
	}
	waitProgress(t, progress, 2*clients)
	ok, lost := 0, 0
	var first error
	for _, lc := range stop() {
		ok, lost = ok+lc.ok, lost+lc.lost
		if first == nil {
			first = lc.firstLoss
		}
	}
	if lost != 0 {
		t.Errorf("lost %d of %d requests over %d handoffs; want 0 (first: %v)", lost, ok+lost, handoffs, first)
	}
	t.Logf("%d requests, %d handoffs, %d lost", ok+lost, handoffs, lost)
}
