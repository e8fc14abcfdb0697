//go:build linux

package upgrader

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/handoff-go/handoff/internal/wire"
	"golang.org/x/sys/unix"
)

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
