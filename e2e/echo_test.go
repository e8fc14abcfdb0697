//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/harness"
	"github.com/handoff-go/handoff/internal/testutil"
)

var echoBin string // examples/echo

func echoBuilds(dir string) []harness.Target {
	echoBin = filepath.Join(dir, "echo")
	return []harness.Target{{Out: echoBin, Pkg: "github.com/handoff-go/handoff/examples/echo"}}
}

// echoClient holds one connection to the echo server and echoes through
// it until told to stop, counting what came back intact.
type echoClient struct {
	id     int
	conn   net.Conn
	rd     *bufio.Reader
	pid    string       // the generation that greeted it
	rounds atomic.Int64 // echoes checked
	bytes  atomic.Int64 // bytes echoed back intact
}

func dialEcho(addr string, id int) (*echoClient, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c := &echoClient{id: id, conn: conn, rd: bufio.NewReader(conn)}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := c.rd.ReadString('\n')
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	c.pid = strings.TrimPrefix(strings.TrimSpace(line), "echo: pid ")
	return c, nil
}

// run echoes numbered messages of a few sizes until stop closes, then
// hangs up. It returns the first byte lost or changed.
func (c *echoClient) run(stop <-chan struct{}) error {
	defer c.conn.Close()
	got := make([]byte, 0, 8192)
	for i := 0; ; i++ {
		select {
		case <-stop:
			return nil
		default:
		}
		msg := bytes.Repeat([]byte(fmt.Sprintf("client %d message %d;", c.id, i)), 1+i%200)
		c.conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.conn.Write(msg); err != nil {
			return fmt.Errorf("client %d: write %d: %w", c.id, i, err)
		}
		got = got[:len(msg)]
		if _, err := io.ReadFull(c.rd, got); err != nil {
			return fmt.Errorf("client %d: echo %d: %w (after %d bytes intact)", c.id, i, err, c.bytes.Load())
		}
		if !bytes.Equal(got, msg) {
			return fmt.Errorf("client %d: echo %d changed: got %.40q; want %.40q", c.id, i, got, msg)
		}
		c.rounds.Add(1)
		c.bytes.Add(int64(len(msg)))
	}
}

// TestEchoUpgradeKeepsConnections: persistent clients of the raw TCP echo
// server keep echoing through an upgrade, on the generation that accepted
// them, losing no byte; a new connection goes to the new generation; the
// old one exits 0 once its clients hang up, and the new one drains on
// SIGTERM and exits 0.
func TestEchoUpgradeKeepsConnections(t *testing.T) {
	dir := testutil.ShortDir(t)
	exe, pidFile, logPath := filepath.Join(dir, "echo"), filepath.Join(dir, "echo.pid"), filepath.Join(dir, "echo.log")
	deploy(t, echoBin, exe)
	addr := freeAddr(t)
	gen1 := startProc(t, exe, []string{"-listen", addr, "-pid-file", pidFile, "-hello", "-drain-timeout", "20s"},
		logPath, procOpts{newGroup: true})
	waitPIDFile(t, pidFile, func(p int) bool { return p == gen1 })

	const n = 4
	stop := make(chan struct{})
	clients := make([]*echoClient, n)
	errs := make(chan error, n)
	for i := range clients {
		c, err := dialEcho(addr, i)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		if c.pid != strconv.Itoa(gen1) {
			t.Fatalf("client %d greeted by pid %q; want generation 1, %d", i, c.pid, gen1)
		}
		clients[i] = c
		go func() { errs <- c.run(stop) }()
	}
	stopped := false
	stopClients := func() {
		if !stopped {
			stopped = true
			close(stop)
		}
	}
	t.Cleanup(stopClients)
	waitRounds(t, clients, 20)

	if err := syscall.Kill(gen1, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	gen2 := waitPIDFile(t, pidFile, func(p int) bool { return p != gen1 })
	fresh, err := dialEcho(addr, n)
	if err != nil {
		t.Fatalf("new connection after the upgrade: %v", err)
	}
	fresh.conn.Close()
	if fresh.pid != strconv.Itoa(gen2) {
		t.Errorf("new connection greeted by pid %q; want generation 2, %d", fresh.pid, gen2)
	}
	waitRounds(t, clients, 20) // the old clients echo on, through generation 1

	stopClients()
	var total int64
	for range clients {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for _, c := range clients {
		total += c.bytes.Load()
	}
	t.Logf("%d clients echoed %d bytes intact across the upgrade", n, total)
	if rec := waitGone(t, gen1, 15*time.Second); !rec.OK() {
		t.Errorf("generation 1 (pid %d): %v; want exit status 0 once its clients hung up", gen1, rec)
	}
	if err := syscall.Kill(gen2, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if rec := waitGone(t, gen2, 15*time.Second); !rec.OK() {
		t.Errorf("generation 2 (pid %d) after SIGTERM: %v; want exit status 0", gen2, rec)
	}
}

// waitRounds waits until every client has checked more echoes since the
// call.
func waitRounds(t *testing.T, clients []*echoClient, more int64) {
	t.Helper()
	start := make([]int64, len(clients))
	for i, c := range clients {
		start[i] = c.rounds.Load()
	}
	err := harness.Poll(15*time.Second, func() bool {
		for i, c := range clients {
			if c.rounds.Load() < start[i]+more {
				return false
			}
		}
		return true
	})
	if err != nil {
		for i, c := range clients {
			t.Logf("client %d: %d echoes since the wait began", i, c.rounds.Load()-start[i])
		}
		t.Fatalf("clients stalled: %v", err)
	}
}

func waitPIDFile(t *testing.T, path string, ok func(int) bool) int {
	t.Helper()
	pid, err := harness.WaitPID(path, 15*time.Second, ok)
	if err != nil {
		t.Fatal(err)
	}
	reaper.ForgetEarlier(pid)
	return pid
}
