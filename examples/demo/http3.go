package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/handoff-go/handoff/quicroute"
	"github.com/handoff-go/handoff/upgrader"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// h3Server serves HTTP/3 on the UDP socket at the TCP listener's address.
// With routing, packets of this generation's connections reach it after
// an upgrade through quicroute; without (-quic-routing=false), it is the
// plain http3.Server on the shared socket that loses them, kept to show
// the difference.
type h3Server struct {
	pc  net.PacketConn
	r   *quicroute.Router // nil without routing
	ln  *quic.EarlyListener
	srv *http3.Server
	log *slog.Logger
}

// startHTTP3 opens (or inherits) the UDP socket named "h3" at addr and
// serves handler on it. Every generation inherits one stateless reset key
// (the file "quic-reset-key"), so the newest resets at once the
// connections of a generation that was killed.
func startHTTP3(u *upgrader.Upgrader, cfg config, addr string, handler http.Handler, log *slog.Logger) (*h3Server, error) {
	base := cfg.control
	if base == "" {
		base = cfg.pidFile
	}
	if base == "" && cfg.quicRouting {
		return nil, errors.New("HTTP/3 needs -control or -pid-file: its forwarding sockets go beside them")
	}
	cert, err := tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("HTTP/3: %w", err)
	}
	keyFile, err := u.File("quic-reset-key", quicroute.NewResetKeyFile)
	if err != nil {
		return nil, err
	}
	resetKey, err := quicroute.ReadResetKey(keyFile)
	keyFile.Close() // the upgrader's set keeps its own copy for the next generation
	if err != nil {
		return nil, err
	}
	pc, err := u.ListenPacket("h3", "udp", addr)
	if err != nil {
		return nil, err
	}
	s := &h3Server{pc: pc, log: log, srv: &http3.Server{Handler: handler,
		QUICConfig: &quic.Config{MaxIdleTimeout: 10 * time.Second}}}
	if !cfg.quicRouting {
		s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		go s.srv.Serve(pc)
		return s, nil
	}
	s.r, err = quicroute.New(pc, quicroute.Options{Generation: u.Generation(),
		SocketPath: quicroute.PathNextTo(base), StatelessResetKey: resetKey, Logger: log})
	if err != nil {
		pc.Close()
		return nil, err
	}
	tlsConf := http3.ConfigureTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}})
	if s.ln, err = s.r.Transport().ListenEarly(tlsConf, s.srv.QUICConfig); err != nil {
		s.r.Close()
		pc.Close()
		return nil, err
	}
	go s.srv.ServeListener(s.ln)
	return s, nil
}

// altSvc says where HTTP/3 is served.
func (s *h3Server) altSvc() string {
	return `h3=":` + strconv.Itoa(s.pc.LocalAddr().(*net.UDPAddr).Port) + `"; ma=86400`
}

// drain hands the shared socket's reading to the next generation, sends
// GOAWAY, and waits for the requests in flight until ctx ends; then it
// closes what is left.
func (s *h3Server) drain(ctx context.Context) error {
	start := time.Now()
	if s.r != nil {
		s.r.Retire()
		s.ln.Close()
	}
	err := s.srv.Shutdown(ctx)
	if s.r != nil {
		s.r.Close()
		st := s.r.Stats()
		s.log.Info("quic drained", "took", time.Since(start).Round(time.Millisecond).String(),
			"forwarded", st.Forwarded, "received", st.Received, "dropped", st.Dropped, "late", st.Late, "malformed", st.Malformed)
	}
	s.pc.Close()
	return err
}

// withHeaders sets X-Pid (and Alt-Svc, when alt is set) on every answer,
// errors included.
func withHeaders(h http.Handler, pid, alt string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Pid", pid)
		if alt != "" {
			w.Header().Set("Alt-Svc", alt)
		}
		h.ServeHTTP(w, r)
	})
}
