package listeners

import (
	"errors"
	"net"
	"os"
	"strings"
	"testing"
)

// checkFDs fails t if it ends with more or fewer open descriptors than it
// started with. Call it first, so that its cleanup runs after all others.
func checkFDs(t *testing.T) {
	t.Helper()
	before, err := countFDs()
	if err != nil {
		return // no /proc here: nothing to count with
	}
	t.Cleanup(func() {
		after, err := countFDs()
		if err != nil {
			t.Errorf("counting fds: %v", err)
			return
		}
		if after != before {
			t.Errorf("open fds: got %d after the test; want %d as before", after, before)
		}
	})
}

func countFDs() (int, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	return len(ents), err
}

// newSet returns a Set that is closed, with its socket files, at cleanup.
func newSet(t *testing.T) *Set {
	t.Helper()
	s := New()
	t.Cleanup(func() {
		if err := s.Close(true); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func mustListen(t *testing.T, s *Set, name, network, addr string) net.Listener {
	t.Helper()
	ln, err := s.Listen(name, network, addr)
	if err != nil {
		t.Fatalf("Listen(%q, %q, %q): %v", name, network, addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func wantErrContains(t *testing.T, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error; want one containing %q", subs)
	}
	for _, sub := range subs {
		if !strings.Contains(err.Error(), sub) {
			t.Errorf("error %q: want it to contain %q", err, sub)
		}
	}
}

func names(infos []Info) []string {
	var ns []string
	for _, in := range infos {
		ns = append(ns, in.Name)
	}
	return ns
}
