package listeners

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
)

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
	return mustOpen(t, s.Listen, name, network, addr)
}

// mustOpen opens a socket with listen, closed at cleanup.
func mustOpen[T io.Closer](t *testing.T, listen func(name, network, addr string) (T, error), name, network, addr string) T {
	t.Helper()
	c, err := listen(name, network, addr)
	if err != nil {
		t.Fatalf("open %q (%s %s): %v", name, network, addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
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
