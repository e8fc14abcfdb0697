package conndrain_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"time"

	"github.com/handoff-go/handoff/conndrain"
)

// An echo server that drains: Drain stops accepting and returns once every
// session has ended, here because its client hung up.
func Example() {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // or an upgrader's Listen
	if err != nil {
		log.Fatal(err)
	}
	srv := conndrain.New(ln, conndrain.Options{})
	go func() {
		for {
			c, err := srv.Accept()
			if err != nil {
				return // net.ErrClosed once the drain has begun
			}
			go func() {
				defer c.Close() // ends its tracking
				io.Copy(c, c)
			}()
		}
	}()

	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintln(client, "hello")
	line, _ := bufio.NewReader(client).ReadString('\n')
	fmt.Print("echoed: ", line)
	client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Drain(ctx) // a *CutError if a session outlived ctx
	fmt.Println("drained:", err, "open:", srv.Active())
	// Output:
	// echoed: hello
	// drained: <nil> open: 0
}
