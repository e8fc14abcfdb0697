package quicroute_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/handoff-go/handoff/internal/testutil"
	"github.com/handoff-go/handoff/quicroute"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// generation is one in-process stand-in for a server generation: its own
// fd of the shared socket, router and HTTP/3 server.
type generation struct {
	r   *quicroute.Router
	ln  *quic.EarlyListener
	srv *http3.Server
	pc  net.PacketConn
}

func startGen(t *testing.T, pc net.PacketConn, gen uint64, dir string, cert tls.Certificate) *generation {
	t.Helper()
	r, err := quicroute.New(pc, quicroute.Options{Generation: gen, SocketPath: quicroute.PathNextTo(filepath.Join(dir, "ctl"))})
	if err != nil {
		t.Fatal(err)
	}
	tlsConf := http3.ConfigureTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}})
	ln, err := r.Transport().ListenEarly(tlsConf, &quic.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http3.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "gen %d", gen)
	})}
	go srv.ServeListener(ln)
	g := &generation{r: r, ln: ln, srv: srv, pc: pc}
	t.Cleanup(func() { g.stop() })
	return g
}

// stop shuts g down; safe to call again.
func (g *generation) stop() {
	g.ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	g.srv.Shutdown(ctx)
	g.r.Close()
	g.pc.Close()
}

// dup gives the shared socket a second fd, as a second process has.
func dup(t *testing.T, pc net.PacketConn) net.PacketConn {
	t.Helper()
	f, err := pc.(*net.UDPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := net.FilePacketConn(f)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func get(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", url, err)
	}
	return string(b)
}

// TestHandoverKeepsConnection: after gen 2 takes the shared socket and gen
// 1 retires, a request on gen 1's connection is still served by gen 1
// (its packets forwarded), and after gen 1's GOAWAY a new request goes to
// gen 2.
func TestHandoverKeepsConnection(t *testing.T) {
	testutil.CheckLeaks(t)
	dir := testutil.ShortDir(t)
	cert, pool := testutil.SelfSigned(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc2 := dup(t, pc)
	url := "https://" + pc.LocalAddr().String() + "/"
	g1 := startGen(t, pc, 1, dir, cert)

	tr := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.Close()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	if got := get(t, client, url); got != "gen 1" {
		t.Fatalf("before handover: got %q; want gen 1", got)
	}

	g2 := startGen(t, pc2, 2, dir, cert)
	g1.r.Retire()
	for i := range 20 {
		if got := get(t, client, url); got != "gen 1" {
			t.Fatalf("request %d after handover: got %q; want gen 1 (the connection's owner)", i, got)
		}
	}
	if s := g2.r.Stats(); s.Forwarded == 0 || s.Dropped != 0 {
		t.Fatalf("gen 2 stats %+v; want packets forwarded, none dropped", s)
	}
	if s := g1.r.Stats(); s.Received == 0 || s.Malformed != 0 {
		t.Fatalf("gen 1 stats %+v; want packets received, none malformed", s)
	}

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g1.ln.Close()
		done <- g1.srv.Shutdown(ctx)
	}()
	if err := testutil.Poll(5*time.Second, func() error {
		if got := get(t, client, url); got != "gen 2" {
			return fmt.Errorf("got %q; want gen 2 after gen 1's GOAWAY", got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("gen 1 shutdown: %v", err)
	}
}

func TestNewRejects(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	path := quicroute.PathNextTo(filepath.Join(testutil.ShortDir(t), "ctl"))
	for _, tc := range []struct {
		name string
		opts quicroute.Options
	}{
		{"generation 0", quicroute.Options{SocketPath: path}},
		{"generation too big", quicroute.Options{Generation: 1 << 32, SocketPath: path}},
		{"no socket path", quicroute.Options{Generation: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r, err := quicroute.New(pc, tc.opts); err == nil {
				r.Close()
				t.Fatal("got nil error")
			}
		})
	}
	r, err := quicroute.New(pc, quicroute.Options{Generation: 3, SocketPath: path})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := quicroute.New(pc, quicroute.Options{Generation: 3, SocketPath: path}); err == nil {
		t.Fatal("second router on a live socket: got nil error; want ErrPathInUse")
	}
}

// TestMalformedForwardsAreCounted: datagrams on the forwarding socket
// that are not well-formed forwards are dropped and counted, and the
// router goes on (its socket is only the service user's, but a bug in
// another version must not reach quic-go as a packet).
func TestMalformedForwardsAreCounted(t *testing.T) {
	testutil.CheckLeaks(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	path := quicroute.PathNextTo(filepath.Join(testutil.ShortDir(t), "ctl"))
	r, err := quicroute.New(pc, quicroute.Options{Generation: 1, SocketPath: path})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := net.Dial("unixgram", path(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bad := [][]byte{[]byte("x"), []byte("QR\x09\x04"), []byte("QR\x01\x07abcdefgh"), make([]byte, 4000)}
	for _, b := range bad {
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Write(nil); err != nil { // a probe: ignored, not counted
		t.Fatal(err)
	}
	if err := testutil.Poll(5*time.Second, func() error {
		if s := r.Stats(); s.Malformed != uint64(len(bad)) || s.Received != 0 {
			return fmt.Errorf("stats %+v; want %d malformed, 0 received", s, len(bad))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestSeveralGenerationsDrain: generations 1 and 2 both drain, each with a
// client on its own connection, while generation 3 reads the shared
// socket; each client is still served by the generation it connected to,
// and a new client goes to generation 3.
func TestSeveralGenerationsDrain(t *testing.T) {
	testutil.CheckLeaks(t)
	dir := testutil.ShortDir(t)
	cert, pool := testutil.SelfSigned(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "https://" + pc.LocalAddr().String() + "/"
	var gens []*generation
	var clients []*http.Client
	var trs []*http3.Transport
	client := func() *http.Client {
		tr := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
		trs = append(trs, tr)
		return &http.Client{Transport: tr, Timeout: 5 * time.Second}
	}
	// Clients hang up first, then the generations stop oldest first, as
	// they would drain: each hang-up still reaches its generation.
	defer func() {
		for _, tr := range trs {
			tr.Close()
		}
		for _, g := range gens {
			g.stop()
		}
	}()
	for gen := uint64(1); gen <= 3; gen++ {
		conn := pc
		if gen > 1 {
			conn = dup(t, pc)
		}
		gens = append(gens, startGen(t, conn, gen, dir, cert))
		if gen > 1 {
			gens[gen-2].r.Retire()
		}
		c := client()
		if got, want := get(t, c, url), fmt.Sprintf("gen %d", gen); got != want {
			t.Fatalf("new client after generation %d started: got %q; want %q", gen, got, want)
		}
		clients = append(clients, c)
	}
	for round := range 10 {
		for i, c := range clients {
			if got, want := get(t, c, url), fmt.Sprintf("gen %d", i+1); got != want {
				t.Fatalf("round %d, client of generation %d: got %q; want %q", round, i+1, got, want)
			}
		}
	}
	if s := gens[0].r.Stats(); s.Received == 0 {
		t.Fatalf("generation 1 stats %+v; want packets forwarded to it", s)
	}
}
