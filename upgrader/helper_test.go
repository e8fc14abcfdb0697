//go:build linux

package upgrader

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the next generation: with helperEnv set,
// TestMain runs helperMain instead of the tests. HELPER_MODE picks how the
// helper behaves, so tests can deploy good and bad "binaries".
const (
	helperEnv     = "UPGRADER_TEST_HELPER"
	helperModeEnv = "UPGRADER_TEST_MODE"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(helperMain(os.Getenv(helperModeEnv)))
	}
	os.Exit(m.Run())
}

// helperMain is a tiny server: it inherits "http", answers GET / with its
// pid, becomes ready, and drains when it has handed over.
func helperMain(mode string) int {
	switch mode {
	case "exit":
		fmt.Fprintln(os.Stderr, "helper: exiting before ready, as told")
		return 3
	case "olddies":
		return oldDiesMain()
	case "fakeserver":
		return fakeServerMain()
	case "badproto":
		f := os.NewFile(3, "x") // the socketpair end, by the convention of these tests
		f.Write([]byte("this is not the protocol"))
		time.Sleep(time.Minute) // until killed: the parent must notice the garbage
		return 0
	}
	u, err := New(Options{PIDFile: os.Getenv("UPGRADER_TEST_PIDFILE"), ControlPath: os.Getenv("UPGRADER_TEST_CONTROL"),
		Command: helperCommand(mode)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	defer u.Stop()
	ln, err := u.Listen("http", "tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	srv := &http.Server{Handler: pidHandler()}
	go srv.Serve(ln)
	if mode == "hang" {
		time.Sleep(time.Minute) // never ready; the parent must kill us
		return 0
	}
	stop := u.UpgradeOnSignal(syscall.SIGHUP)
	defer stop()
	if err := u.Ready(); err != nil {
		fmt.Fprintln(os.Stderr, "helper: ready:", err)
		return 1
	}
	<-u.Exit()
	ln.Close()
	srv.Shutdown(context.Background())
	return 0
}

func pidHandler() http.Handler {
	pid := strconv.Itoa(os.Getpid())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Pid", pid)
	})
}

// helperCommand starts this test binary as the next generation, in mode.
func helperCommand(mode string) func() (*exec.Cmd, error) {
	return func() (*exec.Cmd, error) {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"=1", helperModeEnv+"="+mode)
		cmd.Stderr = os.Stderr
		return cmd, nil
	}
}
