package quicroute_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"time"

	"github.com/handoff-go/handoff/quicroute"
	"github.com/handoff-go/handoff/upgrader"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// An HTTP/3 server under the upgrader: its connections survive every
// upgrade, because the next generation forwards their packets here until
// they are done.
func Example() {
	const control = "/run/myservice/control.sock"
	u, err := upgrader.New(upgrader.Options{ControlPath: control})
	if err != nil {
		panic(err)
	}
	defer u.Stop()
	pc, err := u.ListenPacket("h3", "udp", "127.0.0.1:443")
	if err != nil {
		panic(err)
	}
	r, err := quicroute.New(pc, quicroute.Options{Generation: u.Generation(), SocketPath: quicroute.PathNextTo(control)})
	if err != nil {
		panic(err)
	}
	defer r.Close()
	cert, _ := tls.LoadX509KeyPair("cert.pem", "key.pem")
	ln, err := r.Transport().ListenEarly(http3.ConfigureTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}}), &quic.Config{})
	if err != nil {
		panic(err)
	}
	srv := &http3.Server{Handler: http.NotFoundHandler()}
	go srv.ServeListener(ln)
	if err := u.Ready(); err != nil {
		panic(err)
	}
	<-u.Exit()
	r.Retire() // the next generation reads the shared socket now
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv.Shutdown(ctx) // GOAWAY, then wait for the requests in flight
}
