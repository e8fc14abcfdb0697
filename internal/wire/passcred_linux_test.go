//go:build linux

package wire

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/handoff-go/handoff/internal/testutil"
)

// dgramPair returns the two ends of an AF_UNIX datagram socketpair,
// closed at cleanup.
func dgramPair(t *testing.T) (a, b *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	return testutil.FileUnixConn(t, fds[0]), testutil.FileUnixConn(t, fds[1])
}

// readControl sends one datagram with fds from a to b and returns what
// ParseControl makes of its control data. The fds received are closed at
// cleanup.
func readControl(t *testing.T, a, b *net.UnixConn, fds ...int) ([]int, Cred) {
	t.Helper()
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if _, _, err := a.WriteMsgUnix([]byte("x"), oob, nil); err != nil {
		t.Fatalf("write: %v", err)
	}
	b.SetReadDeadline(time.Now().Add(testTimeout))
	buf, in := make([]byte, 8), make([]byte, oobSize())
	_, oobn, _, _, err := b.ReadMsgUnix(buf, in)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	got, from, err := ParseControl(in[:oobn])
	t.Cleanup(func() { closeFDs(got) })
	if err != nil {
		t.Fatalf("ParseControl: %v", err)
	}
	return got, from
}

func TestPassCredDatagram(t *testing.T) {
	testutil.CheckLeaks(t)
	a, b := dgramPair(t)
	if _, from := readControl(t, a, b); from != (Cred{}) {
		t.Errorf("credentials before PassCred: got %+v; want none", from)
	}
	if err := PassCred(b); err != nil {
		t.Fatal(err)
	}
	sent := makeFDs(t, 2)
	got, from := readControl(t, a, b, sent...)
	if want := (Cred{PID: os.Getpid(), UID: os.Getuid(), GID: os.Getgid()}); from != want {
		t.Errorf("credentials after PassCred: got %+v; want %+v", from, want)
	}
	checkSameFiles(t, sent, got)
}

func TestParseControlMalformed(t *testing.T) {
	fds, from, err := ParseControl([]byte{1, 2, 3})
	if !errors.Is(err, ErrMalformed) || fds != nil || from != (Cred{}) {
		t.Errorf("ParseControl(3 bytes) = %v, %+v, %v; want nothing and ErrMalformed", fds, from, err)
	}
}
