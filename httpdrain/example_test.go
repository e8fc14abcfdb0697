package httpdrain_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/handoff-go/handoff/httpdrain"
)

func Example() {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello\n")
	})}
	s := httpdrain.New(srv, httpdrain.Options{Deadline: 10 * time.Second})

	// In a restart, ln is the socket inherited from the previous process.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + ln.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(string(body))

	// In a restart, this is when the next process has said it is ready.
	fmt.Println("drain:", s.Drain(context.Background()))
	fmt.Println("serve:", <-served)
	// Output:
	// hello
	// drain: <nil>
	// serve: <nil>
}
