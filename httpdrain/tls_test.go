package httpdrain_test

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/handoff-go/handoff/httpdrain"
	"github.com/handoff-go/handoff/internal/testutil"
)

func TestServeTLSDrainsIdleConn(t *testing.T) {
	const grace = 200 * time.Millisecond
	tests := []struct {
		name     string
		http2    bool
		want     int           // ProtoMajor
		minDrain time.Duration // HTTP/2 needs no grace: GOAWAY is safe at once
	}{
		{name: "HTTP/1.1", want: 1, minDrain: grace},
		{name: "HTTP/2", http2: true, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, pool := testutil.SelfSigned(t)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.TLS == nil {
					http.Error(w, "no TLS state", http.StatusInternalServerError)
				}
			})
			srv := &http.Server{Handler: h, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
			s := httpdrain.New(srv, httpdrain.Options{IdleGrace: grace})
			sv := startServeFunc(t, s, listenTCP(t), func(ln net.Listener) error {
				return s.ServeTLS(ln, "", "")
			})
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: tt.http2}
			t.Cleanup(tr.CloseIdleConnections)
			resp, err := (&http.Client{Transport: tr}).Get("https://" + sv.addr)
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.ProtoMajor != tt.want {
				t.Fatalf("got %d over HTTP/%d; want 200 over HTTP/%d", resp.StatusCode, resp.ProtoMajor, tt.want)
			}
			start := time.Now()
			if err := recvErr(t, "Drain", drainAsync(s)); err != nil {
				t.Errorf("Drain = %v; want nil", err)
			}
			if took := time.Since(start); took < tt.minDrain || took > waitLimit/2 {
				t.Errorf("Drain with an idle TLS conn took %v; want at least %v, well under %v", took, tt.minDrain, waitLimit/2)
			}
			if err := sv.wait(t); err != nil {
				t.Errorf("ServeTLS = %v; want nil", err)
			}
		})
	}
}
