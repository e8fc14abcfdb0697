package control_test

import (
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/handoff-go/handoff/control"
)

// Ask a server for its status, then to upgrade, following the progress.
// It compiles but does not run as a test: it needs a live server.
func Example() {
	cl := control.Client{Path: "/run/app/control.sock"}
	st, err := cl.Status()
	if errors.Is(err, control.ErrNoServer) || errors.Is(err, control.ErrStaleSocket) {
		log.Fatal("nothing serves: ", err)
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("pid %d serves generation %d\n", st.PID, st.Generation)

	call, err := cl.Upgrade()
	if err != nil {
		log.Fatal(err)
	}
	defer call.Close()
	call.SetDeadline(time.Now().Add(time.Minute))
	res, err := call.Result(func(p control.Progress) { fmt.Println(p.Event, p.PID) })
	switch {
	case err != nil:
		log.Fatal(err)
	case !res.OK:
		log.Fatalf("upgrade not done (%s): %s", res.Code, res.Error)
	}
	if call.WaitHangUp() == nil {
		fmt.Printf("pid %d serves; the old process has exited\n", res.PID)
	}
}
