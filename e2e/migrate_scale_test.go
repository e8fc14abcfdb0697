//go:build linux

package e2e

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/proc"
	"github.com/handoff-go/handoff/internal/testutil"
)

// TestManyIdleConnsManyUpgrades holds 1,000 idle keep-alive connections
// through 100 upgrades: after each, the old generation has exited 0, the
// new one holds exactly as many fds as the first child did, only one process is
// left, and at the end every connection is answered by the last pid on its
// original socket. Without moving, the first upgrade closes all 1,000.
func TestManyIdleConnsManyUpgrades(t *testing.T) {
	const conns, upgrades = 1000, 100
	d := startDemo(t)
	rcs := make([]*rawConn, conns)
	for i := range rcs {
		rcs[i] = dialRaw(t, d.addr)
		rcs[i].mustGet(t, itoa(i))
	}
	cold := quietFDs(t, d.first, -1)
	base := -1 // the first child's count: a cold start holds one fd more than a child here
	pid := d.first
	for i := range upgrades {
		next := d.upgradeTo(t, pid)
		got := quietFDs(t, next, base)
		if base < 0 {
			if base = got; base < conns || base > cold {
				t.Fatalf("first child holds %d fds; want %d connections plus a few, at most the %d of the cold start", got, conns, cold)
			}
		}
		if left := proc.GroupMembers(d.first); len(left) != 1 || left[0] != next {
			t.Fatalf("upgrade %d: processes %v left; want only %d", i+1, left, next)
		}
		pid = next
	}
	for i, rc := range rcs {
		if a := rc.mustGet(t, "last-"+itoa(i)); a.pid != itoa(pid) {
			t.Fatalf("connection %d answered by pid %s; want %d", i, a.pid, pid)
		}
	}
}

// TestTLSConnsDrainNotMoved serves HTTPS: its connections never move (the
// session keys live in the old process), so each upgrade makes clients
// reconnect, and the drain still loses nothing. Four raw TLS clients send
// request after request, reconnecting only when told Connection: close;
// any error is a lost request.
func TestTLSConnsDrainNotMoved(t *testing.T) {
	cert, pool := testutil.SelfSigned(t)
	certFile, keyFile := testutil.WriteKeyPair(t, testutil.ShortDir(t), cert)
	d := newDeployment(t)
	p := startProc(t, d.exe, d.args("-tls-cert", certFile, "-tls-key", keyFile), d.logPath, procOpts{newGroup: true})
	d.first = p
	d.waitPID(t, func(pid int) bool { return pid == p })
	cfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	var dials atomic.Int64
	l := startLoops(4, func(_ int, l *clientLoops) error { return tlsLoop(d.addr, cfg, &l.stop, &l.sent, &dials) })
	l.waitSent(t, 50)
	warm := dials.Load()
	l.upgradeEach(t, d, 5, 50)
	l.finish(t)
	if got := dials.Load() - warm; got < 5 {
		t.Errorf("%d TLS reconnects over 5 upgrades; want at least one per upgrade (TLS must not move)", got)
	}
	if n := strings.Count(d.log(), "moving=0"); n != 5 {
		t.Errorf("%d drains said moving=0; want all 5", n)
	}
}

func tlsLoop(addr string, cfg *tls.Config, stop *atomic.Bool, sent, dials *atomic.Int64) error {
	var rc *rawConn
	for i := 0; !stop.Load() && i < 1e6; i++ {
		if rc == nil {
			c, err := tls.Dial("tcp", addr, cfg)
			if err != nil {
				return fmt.Errorf("dial: %w", err)
			}
			dials.Add(1)
			rc = &rawConn{c: c, r: bufio.NewReader(c)}
		}
		a, err := rc.get(itoa(i))
		if err != nil {
			rc.c.Close()
			return fmt.Errorf("request %d: %w", i, err)
		}
		sent.Add(1)
		if a.closing {
			rc.c.Close()
			rc = nil
		}
		time.Sleep(time.Millisecond)
	}
	if rc != nil {
		rc.c.Close()
	}
	return nil
}
