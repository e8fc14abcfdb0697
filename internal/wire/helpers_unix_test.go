//go:build unix

package wire

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/handoff-go/handoff/internal/testutil"
)

// wantFDLimit is enough for the largest round trip: 5000 fds sent, 5000
// received, and room for the test binary's own.
const wantFDLimit = 10240

// testTimeout bounds every step of a test conversation, so that a bug
// fails the test instead of hanging it.
const testTimeout = 5 * time.Second

func TestMain(m *testing.M) {
	if err := raiseFDLimit(); err != nil {
		fmt.Fprintln(os.Stderr, "wire test:", err)
	}
	warmUpNetpoll()
	os.Exit(m.Run())
}

// raiseFDLimit lifts the soft RLIMIT_NOFILE toward the hard limit. The Go
// runtime usually has done so already.
func raiseFDLimit() error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur >= wantFDLimit {
		return nil
	}
	lim.Cur = lim.Max
	if lim.Max > wantFDLimit {
		lim.Cur = wantFDLimit
	}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("setrlimit: %w", err)
	}
	return nil
}

// fdLimit is the current soft RLIMIT_NOFILE.
func fdLimit(t testing.TB) uint64 {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	return uint64(lim.Cur)
}

// warmUpNetpoll makes the runtime open its poller's fds before any test
// counts fds.
func warmUpNetpoll() {
	fds, err := socketpair()
	if err != nil {
		return
	}
	for _, fd := range fds {
		f := os.NewFile(uintptr(fd), "warm-up")
		if c, err := net.FileConn(f); err == nil {
			c.Close()
		}
		f.Close()
	}
}

// connPair returns two connected Conns, closed at cleanup.
func connPair(t testing.TB) (a, b *Conn) {
	t.Helper()
	ua, ub := testutil.SocketPair(t)
	return newTestConn(t, ua), newTestConn(t, ub)
}

func newTestConn(t testing.TB, uc *net.UnixConn) *Conn {
	c := NewConn(uc)
	c.SetTimeout(testTimeout)
	t.Cleanup(func() { c.Close() })
	return c
}

// makeFDs returns n open fds, each a socket of its own, so that every one
// has a distinct inode to be recognised by after a handoff.
func makeFDs(t testing.TB, n int) []int {
	t.Helper()
	fds := make([]int, 0, n+1)
	t.Cleanup(func() { closeFDs(fds) })
	for len(fds) < n {
		pair, err := socketpair()
		if err != nil {
			t.Fatalf("socketpair for fd %d of %d: %v", len(fds), n, err)
		}
		fds = append(fds, pair[:]...)
	}
	if len(fds) > n {
		unix.Close(fds[n])
		fds = fds[:n]
	}
	return fds
}

func makeEntries(n int) []Entry {
	entries := make([]Entry, n)
	for i := range entries {
		entries[i] = Entry{Name: fmt.Sprintf("fd-%d", i), Network: "unix", Addr: fmt.Sprintf("@test-%d", i)}
	}
	return entries
}

// sendAsync runs SendFiles on another goroutine; its result comes on the
// channel.
func sendAsync(c *Conn, entries []Entry, fds []int) <-chan error {
	done := make(chan error, 1)
	go func() { done <- c.SendFiles(entries, fds) }()
	return done
}

// checkSameFiles checks that got are distinct, open, close-on-exec fds
// that refer, in order, to the same files as sent.
func checkSameFiles(t *testing.T, sent, got []int) {
	t.Helper()
	if len(got) != len(sent) {
		t.Fatalf("received %d fds; want %d", len(got), len(sent))
	}
	seen := make(map[int]int, len(got))
	for i, fd := range got {
		if j, dup := seen[fd]; dup {
			t.Fatalf("fd %d received as both #%d and #%d; want distinct fds", fd, j, i)
		}
		seen[fd] = i
		if err := sameFile(sent[i], fd); err != nil {
			t.Fatalf("fd #%d: %v", i, err)
		}
	}
}

// sameFile checks that got is a close-on-exec fd for the file of sent.
func sameFile(sent, got int) error {
	var want, have unix.Stat_t
	if err := unix.Fstat(sent, &want); err != nil {
		return fmt.Errorf("fstat sent fd %d: %w", sent, err)
	}
	if err := unix.Fstat(got, &have); err != nil {
		return fmt.Errorf("fstat received fd %d: %w", got, err)
	}
	if have.Dev != want.Dev || have.Ino != want.Ino {
		return fmt.Errorf("received fd %d is dev %d ino %d; want dev %d ino %d like sent fd %d",
			got, have.Dev, have.Ino, want.Dev, want.Ino, sent)
	}
	flags, err := unix.FcntlInt(uintptr(got), unix.F_GETFD, 0)
	if err != nil {
		return fmt.Errorf("F_GETFD on received fd %d: %w", got, err)
	}
	if flags&unix.FD_CLOEXEC == 0 {
		return fmt.Errorf("received fd %d: FD_CLOEXEC not set; want set", got)
	}
	return nil
}

// checkErr checks that err matches want (with errors.Is, or errors.As
// when want is a pointer to a typed error) and mentions wantMsg.
func checkErr(t *testing.T, err error, want any, wantMsg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error; want one matching %v", want)
	}
	t.Logf("error: %v", err)
	switch w := want.(type) {
	case error:
		if !errors.Is(err, w) {
			t.Errorf("got error %q; want it to wrap %q", err, w)
		}
	case **VersionError:
		if !errors.As(err, w) {
			t.Errorf("got error %q; want a *VersionError", err)
		}
	case **AbortError:
		if !errors.As(err, w) {
			t.Errorf("got error %q; want an *AbortError", err)
		}
	}
	if !strings.Contains(err.Error(), wantMsg) {
		t.Errorf("got error %q; want it to mention %q", err, wantMsg)
	}
}

// batchFrame is a Batch frame of n made-up entries.
func batchFrame(seq, n int) []byte {
	frame, err := encodeFrame(TypeBatch, Batch{Seq: seq, Entries: makeEntries(n)})
	if err != nil {
		panic(err)
	}
	return frame
}

// writeFrames writes frames as raw bytes, with fds attached to the first.
func writeFrames(t *testing.T, uc *net.UnixConn, fds []int, frames ...[]byte) {
	t.Helper()
	b := slices.Concat(frames...)
	if err := uc.SetWriteDeadline(time.Now().Add(testTimeout)); err != nil {
		t.Fatal(err)
	}
	if err := writeMsg(uc, b, fds); err != nil {
		t.Fatalf("write %d bytes with %d fds: %v", len(b), len(fds), err)
	}
}
