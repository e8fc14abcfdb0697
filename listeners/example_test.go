package listeners_test

import (
	"fmt"
	"log"
	"net/http"

	"github.com/handoff-go/handoff/listeners"
)

// A process opens its sockets by name; List reports them for a status page.
func ExampleSet_List() {
	set := listeners.New()
	defer set.Close(true)

	ln, err := set.Listen("http", "tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close() // closes this process's dup only; the Set keeps the socket

	for _, m := range set.List() {
		fmt.Println(m.Name, m.Network, m.Inherited)
	}
	// Output: http tcp false
}

// The handoff as each side sees it. Moving entries and fds between the
// processes (SCM_RIGHTS over a Unix socket) is the upgrader's job; send
// and receive stand for it here.
func Example_handoff() {
	var (
		send    func([]listeners.Entry, []int) error
		receive func() ([]listeners.Entry, []int, error)
	)

	// Old process: pass dups of everything, then let go without unlinking
	// the socket files the new process now serves.
	oldSet := listeners.New()
	entries, fds, err := oldSet.Export()
	if err != nil {
		log.Fatal(err)
	}
	if err := send(entries, fds); err != nil { // send closes fds
		log.Fatal(err)
	}
	defer oldSet.Close(false)

	// New process: adopt what arrived, ask for sockets by name as on a cold
	// start, and drop whatever this version no longer uses.
	newSet := listeners.New()
	entries, fds, err = receive()
	if err != nil {
		log.Fatal(err)
	}
	if err := newSet.Inherit(entries, fds); err != nil {
		log.Fatal(err)
	}
	ln, err := newSet.Listen("http", "tcp", ":8080")
	if err != nil {
		log.Fatal(err)
	}
	if err := newSet.CloseUnclaimed(); err != nil {
		log.Print(err)
	}
	log.Fatal(http.Serve(ln, nil))
}
