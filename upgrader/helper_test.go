//go:build linux

package upgrader

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/handoff-go/handoff/control"
	"github.com/handoff-go/handoff/internal/testutil"
	"github.com/handoff-go/handoff/internal/wire"
	"golang.org/x/sys/unix"
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
		Command: helperCommand(mode), Probation: NoProbation})
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
	if mode == "neveraccepts" { // a hung build: the kernel queues for whoever accepts next
		ln.Close()
	}
	if err := u.Ready(); err != nil {
		fmt.Fprintln(os.Stderr, "helper: ready:", err)
		return 1
	}
	switch mode {
	case "neveraccepts":
		time.Sleep(500 * time.Millisecond)
		os.Exit(4)
	case "diesafterready": // a bad build: fails on probation
		time.Sleep(200 * time.Millisecond)
		fmt.Fprintln(os.Stderr, "helper: dying after ready, as told")
		os.Exit(4) // a crash: no deferred Stop
	case "returnsafterready": // main gives up: its deferred Stop gives back
		return 5
	case "givesback":
		if err := u.GiveBack("health check failed"); err != nil {
			fmt.Fprintln(os.Stderr, "helper: give back:", err)
			return 1
		}
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

// getPID asks addr for GET / on a fresh connection and returns the X-Pid
// that pidHandler answered with, or the error.
func getPID(addr string) string {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return err.Error()
	}
	resp.Body.Close()
	return resp.Header.Get("X-Pid")
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

// serving starts an upgrader in this test process, serving X-Pid on a
// fresh listener named "http", and returns it with its address.
func serving(t *testing.T, opts Options) (*Upgrader, string) {
	t.Helper()
	if opts.Probation == 0 { // the tests of probation set it
		opts.Probation = NoProbation
	}
	u, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Stop)
	ln, err := u.Listen("http", "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: pidHandler()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	if err := u.Ready(); err != nil {
		t.Fatal(err)
	}
	go func() { <-u.Exit(); ln.Close() }()
	return u, ln.Addr().String()
}

// reapAtCleanup kills pid (a helper generation) at cleanup and waits until
// it is gone; the upgrader's own Wait reaps it.
func reapAtCleanup(t *testing.T, pid int) {
	t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGKILL)
		err := testutil.Poll(5*time.Second, func() error {
			if alive(control.Peer{PID: pid}) {
				return fmt.Errorf("helper pid %d outlived SIGKILL", pid)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	})
}

// playOld plays the previous generation by hand on c, up to the new
// side's Ready: it sends hello and hands over ln as "http". What it
// declares in hello is whatever the test wants a lying peer to say.
func playOld(c *wire.Conn, hello wire.Hello, ln *net.TCPListener, more ...namedListener) error {
	if err := c.Expect(wire.TypeHello, &wire.Hello{}); err != nil {
		return err
	}
	if err := c.Send(wire.TypeHello, hello); err != nil {
		return err
	}
	var entries []wire.Entry
	var fds []int
	for _, l := range append([]namedListener{{"http", ln}}, more...) {
		// A dup; blocking mode does not matter to a listener we never accept on.
		f, err := l.ln.(interface{ File() (*os.File, error) }).File()
		if err != nil {
			return err
		}
		defer f.Close()
		entries = append(entries, wire.Entry{Name: l.name, Network: l.ln.Addr().Network(), Addr: l.ln.Addr().String()})
		fds = append(fds, int(f.Fd()))
	}
	if err := c.SendFiles(entries, fds); err != nil {
		return err
	}
	return c.Expect(wire.TypeReady, &wire.Ready{})
}

type namedListener struct {
	name string
	ln   net.Listener
}

func listenTCP() (*net.TCPListener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return ln.(*net.TCPListener), nil
}

// oldDiesMain is a previous generation that starts its child ("serve"),
// hands it a listener, and dies when the child says Ready, before
// ReadyAck. It writes the listener's address to UPGRADER_TEST_ADDRFILE.
func oldDiesMain() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "helper olddies:", err); return 1 }
	ln, err := listenTCP()
	if err != nil {
		return fail(err)
	}
	if err := os.WriteFile(os.Getenv("UPGRADER_TEST_ADDRFILE"), []byte(ln.Addr().String()), 0o600); err != nil {
		return fail(err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail(err)
	}
	cmd, _ := helperCommand("serve")()
	cmd.ExtraFiles = []*os.File{os.NewFile(uintptr(fds[1]), "child")}
	cmd.Env = append(cmd.Env, wire.EnvFD+"=3") // stays in our group, which the test kills at cleanup
	if err := cmd.Start(); err != nil {
		return fail(err)
	}
	uc, err := net.FileConn(os.NewFile(uintptr(fds[0]), "parent"))
	if err != nil {
		return fail(err)
	}
	if err := playOld(wire.NewConn(uc.(*net.UnixConn)), wire.Hello{PID: os.Getpid(), Generation: 1}, ln); err != nil {
		return fail(err)
	}
	os.Exit(7) // dies at the worst moment: the child holds every fd, no ReadyAck
	return 0
}

// fakeServerMain listens on UPGRADER_TEST_CONTROL, as whatever user it was
// started as, and plays a previous generation for whoever takes over.
func fakeServerMain() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "helper fakeserver:", err); return 1 }
	ctl, err := net.Listen("unix", os.Getenv("UPGRADER_TEST_CONTROL"))
	if err != nil {
		return fail(err)
	}
	os.Chmod(os.Getenv("UPGRADER_TEST_CONTROL"), 0o777)
	ln, err := listenTCP()
	if err != nil {
		return fail(err)
	}
	for {
		raw, err := ctl.Accept()
		if err != nil {
			return fail(err)
		}
		c := wire.NewConn(raw.(*net.UnixConn))
		if c.Expect(wire.TypeRequest, &wire.Request{}) == nil &&
			playOld(c, wire.Hello{PID: os.Getpid(), Generation: 1}, ln) == nil {
			c.Send(wire.TypeReadyAck, struct{}{})
		}
		time.Sleep(100 * time.Millisecond)
		c.Close()
	}
}

// startAs starts helper mode as uid:gid from a copy of the test binary in
// dir, which that user can run; env adds to the environment.
func startAs(dir, mode string, uid, gid uint32, env ...string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(self)
	if err != nil {
		return nil, err
	}
	exe := dir + "/helper-" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(append(os.Environ(), helperEnv+"=1", helperModeEnv+"="+mode), env...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	return cmd, cmd.Start()
}
