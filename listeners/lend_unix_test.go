//go:build unix

package listeners

import (
	"errors"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/handoff-go/handoff/internal/testutil"
)

func TestLendGivesTheSetsOwnFDs(t *testing.T) {
	testutil.CheckLeaks(t)
	s := New()
	defer s.Close(false)
	for _, name := range []string{"b", "a", "c"} {
		ln, err := s.Listen(name, "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln.Close() // the member stays
	}
	wantEntries, dups := mustExport(t, s)
	defer closeFDs(dups)
	var gotEntries []Entry
	var lent []int
	err := s.Lend(func(entries []Entry, fds []int) error {
		gotEntries, lent = entries, slices.Clone(fds)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gotEntries, wantEntries) {
		t.Fatalf("entries: got %v; want %v (Export's)", gotEntries, wantEntries)
	}
	for i, fd := range lent {
		if !sameFile(t, fd, dups[i]) {
			t.Errorf("lent fd %d (%s) is not the socket Export dup'd", fd, gotEntries[i].Name)
		}
		if slices.Contains(dups, fd) {
			t.Errorf("lent fd %d is a dup, not the set's own", fd)
		}
	}
}

func TestLendPassesSendErrorsAndRefusesAfterClose(t *testing.T) {
	testutil.CheckLeaks(t)
	s := New()
	boom := errors.New("peer went away")
	if err := s.Lend(func([]Entry, []int) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("got %v; want send's error", err)
	}
	s.Close(false)
	if err := s.Lend(func([]Entry, []int) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: got %v; want ErrClosed", err)
	}
}

// sameFile reports whether fds a and b refer to the same open file.
func sameFile(t *testing.T, a, b int) bool {
	t.Helper()
	var sa, sb unix.Stat_t
	if err := unix.Fstat(a, &sa); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fstat(b, &sb); err != nil {
		t.Fatal(err)
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

func TestLenCountsClaimedAndUnclaimed(t *testing.T) {
	testutil.CheckLeaks(t)
	a := New()
	defer a.Close(false)
	for _, name := range []string{"x", "y"} {
		ln, err := a.Listen(name, "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
	}
	entries, fds := mustExport(t, a)
	b := New()
	defer b.Close(false)
	if err := b.Inherit(entries, fds); err != nil {
		t.Fatal(err)
	}
	ln, err := b.Listen("x", "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if got, want := b.Len(), len(b.List()); got != want || got != 2 {
		t.Fatalf("Len with one claimed, one unclaimed: got %d; want %d (List's length)", got, 2)
	}
}
