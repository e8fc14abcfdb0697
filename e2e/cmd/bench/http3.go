//go:build linux

package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/harness"
	"github.com/handoff-go/handoff/e2e/internal/proc"
	"github.com/handoff-go/handoff/internal/testutil"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// http3Result is section http3: the demo with TLS serves HTTP/3 to
// clients that each keep one connection (quic-go's http3.Transport),
// first idle for a window, then through upgrades one after another.
// Handoff only: tableflip has no way to route QUIC packets.
type http3Result struct {
	Err       string        `json:"error,omitempty"`
	Clients   int           `json:"clients"`
	Asked     int           `json:"upgrades_asked"`
	Done      int           `json:"upgrades_done"`
	Requests  int64         `json:"requests"`
	Lost      int64         `json:"requests_lost"`
	Retried   int64         `json:"requests_resent_after_client_goaway_race"`
	IdleP99   time.Duration `json:"idle_p99_ns"`
	BusyP99   time.Duration `json:"upgrading_p99_ns"`
	Ratio     float64       `json:"upgrading_over_idle_p99"`
	Forwarded int64         `json:"packets_forwarded"`
	Dropped   int64         `json:"packets_dropped"`
	Late      int64         `json:"packets_late"`
	Malformed int64         `json:"forwards_malformed"`
}

func runHTTP3(b *bench, o options, rep *report) {
	res := b.measureHTTP3(o.clients, o.upgrades, o.window)
	progress("http3: %d upgrades, %d requests, %d lost, p99 upgrading ÷ idle %.2f %s",
		res.Done, res.Requests, res.Lost, res.Ratio, res.Err)
	rep.HTTP3 = &res
}

// h3Bench is the load of section http3.
type h3Bench struct {
	busy          atomic.Bool
	mu            sync.Mutex
	idle, upgr    []time.Duration
	n, lost, redo atomic.Int64
	stop          chan struct{}
	wg            sync.WaitGroup
}

func (b *bench) measureHTTP3(clients, upgrades int, window time.Duration) (res http3Result) {
	res = http3Result{Clients: clients, Asked: upgrades}
	s, pool, err := b.startH3Server()
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer func() { b.stopServer(s) }()
	l := &h3Bench{stop: make(chan struct{})}
	for range clients {
		l.wg.Go(func() { l.client(s.addr, pool) })
	}
	time.Sleep(window) // the idle window: a measurement period, not a wait for a condition
	l.busy.Store(true)
	pid := s.pgid
	for range upgrades {
		if b.outOfTime() {
			res.Err = errOutOfTime.Error()
			break
		}
		next, err := b.sighupH3(s, pid)
		if err != nil {
			res.Err = err.Error()
			break
		}
		pid = next
		res.Done++
		time.Sleep(50 * time.Millisecond) // upgrades 50 ms apart, as a paced deploy loop
	}
	close(l.stop)
	l.wg.Wait()
	res.Requests, res.Lost, res.Retried = l.n.Load(), l.lost.Load(), l.redo.Load()
	res.IdleP99, res.BusyP99 = percentile(l.idle, 99), percentile(l.upgr, 99)
	res.Ratio = frac(float64(res.BusyP99), float64(res.IdleP99))
	// Let the old generations finish draining, so that their counts are logged.
	harness.Until(harness.Earliest(15*time.Second, b.end), 20*time.Millisecond, func() bool {
		return len(proc.GroupMembers(s.pgid)) <= 1
	})
	res.addRouterCounts(s.logPath)
	return res
}

// client keeps one HTTP/3 connection and sends GET / until stopped (at
// most 1,000,000 requests), paced 2 ms apart.
func (l *h3Bench) client(addr string, pool *x509.CertPool) {
	tr := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, QUICConfig: &quic.Config{MaxIdleTimeout: 10 * time.Second}}
	defer tr.Close()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	for range 1_000_000 {
		select {
		case <-l.stop:
			return
		default:
		}
		start := time.Now()
		err := h3Get(c, "https://"+addr+"/")
		if err != nil && harness.H3ClientCutOnGoAway(err) {
			l.redo.Add(1) // quic-go's client cut its own request on GOAWAY (see harness.H3ClientCutOnGoAway)
			err = h3Get(c, "https://"+addr+"/")
		}
		took := time.Since(start)
		l.n.Add(1)
		if err != nil {
			l.lost.Add(1)
			continue
		}
		l.mu.Lock()
		if l.busy.Load() {
			l.upgr = append(l.upgr, took)
		} else {
			l.idle = append(l.idle, took)
		}
		l.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
	}
}

func h3Get(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Pid") == "" {
		return fmt.Errorf("got %s without X-Pid", resp.Status)
	}
	return nil
}

// startH3Server starts the demo with a fresh self-signed certificate and
// waits until its first generation answers over HTTP/3.
func (b *bench) startH3Server() (*server, *x509.CertPool, error) {
	dir, err := b.tempDir()
	if err != nil {
		return nil, nil, err
	}
	s := &server{kind: handoff, label: "http3", dir: dir, pidFile: filepath.Join(dir, "pid"),
		logPath: filepath.Join(dir, "log"), ctlPath: filepath.Join(dir, "ctl")}
	certFile, keyFile, pool, err := writeCert(dir)
	if err == nil {
		s.addr, err = testutil.FreeAddr()
	}
	if err == nil {
		s.pgid, err = b.spawn(b.bins.demo, []string{"-listen", s.addr, "-pid-file", s.pidFile, "-control", s.ctlPath,
			"-tls-cert", certFile, "-tls-key", keyFile, "-log-format", "json", "-drain-timeout", "10s", "-max-draining", "8", "-probation", benchProbation.String()}, s.logPath)
	}
	if err != nil {
		b.removeDir(dir)
		return nil, nil, fmt.Errorf("start http3 demo: %w", err)
	}
	c := &http.Client{Transport: &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: time.Second}
	defer c.Transport.(*http3.Transport).Close()
	if !harness.Until(harness.Earliest(startTimeout, b.end), 20*time.Millisecond, func() bool {
		pid, ok := proc.ReadPID(s.pidFile)
		return ok && pid == s.pgid && h3Get(c, "https://"+s.addr+"/") == nil
	}) {
		b.stopServer(s)
		return nil, nil, fmt.Errorf("http3 demo not serving within %v: %s", startTimeout, harness.LastLogLine(s.logPath))
	}
	return s, pool, nil
}

// sighupH3 upgrades the demo and returns the new pid once the pid file
// names it.
func (b *bench) sighupH3(s *server, old int) (int, error) {
	if err := syscall.Kill(old, syscall.SIGHUP); err != nil {
		return 0, err
	}
	pid := old
	if !harness.Until(harness.Earliest(upgradeTimeout, b.end), pidPoll, func() bool {
		p, ok := proc.ReadPID(s.pidFile)
		pid = p
		return ok && p != old
	}) {
		return 0, fmt.Errorf("upgrade of %d: no new pid within %v: %s", old, upgradeTimeout, harness.LastLogLine(s.logPath))
	}
	return pid, nil
}

// addRouterCounts adds up the "quic drained" records of the demo's JSON log.
func (r *http3Result) addRouterCounts(logPath string) {
	f, err := os.Open(logPath)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct {
			Msg                                 string
			Forwarded, Dropped, Late, Malformed int64
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Msg != "quic drained" {
			continue
		}
		r.Forwarded += rec.Forwarded
		r.Dropped += rec.Dropped
		r.Late += rec.Late
		r.Malformed += rec.Malformed
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 into dir.
func writeCert(dir string) (certFile, keyFile string, pool *x509.CertPool, err error) {
	cert, pool, err := testutil.NewSelfSigned()
	if err != nil {
		return "", "", nil, err
	}
	certFile, keyFile, err = testutil.WriteKeyPairFiles(dir, cert)
	return certFile, keyFile, pool, err
}

func renderHTTP3(w *strings.Builder, rep report) {
	r := rep.HTTP3
	if r == nil {
		return
	}
	if r.Err != "" {
		fmt.Fprintf(w, "%s\n\n", errCell(r.Err))
	}
	fmt.Fprintf(w, "The demo with TLS, %d HTTP/3 clients (quic-go http3.Transport, one connection each, a request every 2 ms), "+
		"then %d upgrades 50 ms apart. Packets are the old generations' QUIC routers' counts.\n\n", r.Clients, r.Asked)
	t := table{header: []string{"upgrades", "requests", "lost", "resent (client GOAWAY race)", "p99 idle", "p99 upgrading", "÷ idle",
		"packets forwarded", "dropped", "late", "malformed"}}
	t.add(fmt.Sprintf("%d of %d", r.Done, r.Asked), strconv.FormatInt(r.Requests, 10), strconv.FormatInt(r.Lost, 10),
		strconv.FormatInt(r.Retried, 10), r.IdleP99.Round(10*time.Microsecond).String(), r.BusyP99.Round(10*time.Microsecond).String(),
		fmt.Sprintf("%.2fx", r.Ratio), strconv.FormatInt(r.Forwarded, 10), strconv.FormatInt(r.Dropped, 10),
		strconv.FormatInt(r.Late, 10), strconv.FormatInt(r.Malformed, 10))
	fmt.Fprintf(w, "%s\n", t.markdown())
}
