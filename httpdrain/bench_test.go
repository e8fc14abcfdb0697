package httpdrain

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
)

// BenchmarkServeKeepAlive measures what serving through httpdrain costs
// per request against a plain http.Server: one keep-alive client, one
// small response per round trip. Compare the two with benchstat.
func BenchmarkServeKeepAlive(b *testing.B) {
	for _, bc := range []struct {
		name  string
		serve func(*http.Server, net.Listener)
	}{
		{"plain", func(srv *http.Server, ln net.Listener) { srv.Serve(ln) }},
		{"httpdrain", func(srv *http.Server, ln net.Listener) { New(srv, Options{}).Serve(ln) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				io.WriteString(w, "hello\n")
			})}
			go bc.serve(srv, ln)
			defer srv.Close()
			roundTrips(b, ln.Addr().String())
		})
	}
}

func roundTrips(b *testing.B, addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: bench\r\n\r\n"); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
