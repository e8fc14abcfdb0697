package listeners

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/handoff-go/handoff/internal/testutil"
)

func TestListenRejectsBadRequests(t *testing.T) {
	testutil.CheckLeaks(t)
	s := newSet(t)
	tests := []struct {
		name    string
		call    func() error
		wantSub string
	}{
		{"datagram network in Listen", func() error { _, err := s.Listen("a", "udp", "127.0.0.1:0"); return err }, "use ListenPacket"},
		{"stream network in ListenPacket", func() error { _, err := s.ListenPacket("a", "tcp", "127.0.0.1:0"); return err }, "use Listen"},
		{"unknown network", func() error { _, err := s.Listen("a", "sctp", "127.0.0.1:0"); return err }, `unknown network "sctp"`},
		{"file network in Listen", func() error { _, err := s.Listen("a", "file", "x"); return err }, `unknown network "file"`},
		{"empty name", func() error { _, err := s.Listen("", "tcp", "127.0.0.1:0"); return err }, "empty name"},
		{"empty file name", func() error { _, err := s.File("", nil); return err }, "empty name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErrContains(t, tt.call(), tt.wantSub)
		})
	}
	if got := len(s.List()); got != 0 {
		t.Errorf("members after bad requests: got %d; want 0", got)
	}
}

func TestListSortedByName(t *testing.T) {
	testutil.CheckLeaks(t)
	s := newSet(t)
	for _, name := range []string{"b", "c", "a"} {
		mustListen(t, s, name, "tcp", "127.0.0.1:0")
	}
	infos := s.List()
	if got, want := names(infos), []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Fatalf("List names: got %q; want %q", got, want)
	}
	for _, in := range infos {
		if in.Network != "tcp" || in.Inherited || !strings.HasPrefix(in.Addr, "127.0.0.1:") || strings.HasSuffix(in.Addr, ":0") {
			t.Errorf("List entry: got %+v; want a fresh tcp member bound to 127.0.0.1 on a real port", in)
		}
	}
}

func TestClosedSetRefusesEverything(t *testing.T) {
	testutil.CheckLeaks(t)
	s := New()
	if err := s.Close(false); err != nil {
		t.Fatalf("first Close: got %v; want nil", err)
	}
	tests := []struct {
		name string
		call func() error
	}{
		{"Close", func() error { return s.Close(true) }},
		{"Listen", func() error { _, err := s.Listen("a", "tcp", "127.0.0.1:0"); return err }},
		{"ListenPacket", func() error { _, err := s.ListenPacket("a", "udp", "127.0.0.1:0"); return err }},
		{"File", func() error {
			_, err := s.File("a", func() (*os.File, error) { return nil, errors.New("open must not be called") })
			return err
		}},
		{"CloseUnclaimed", s.CloseUnclaimed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, ErrClosed) {
				t.Errorf("got %v; want ErrClosed", err)
			}
		})
	}
}

func TestFileOpenErrorIsWrapped(t *testing.T) {
	testutil.CheckLeaks(t)
	s := newSet(t)
	errBoom := errors.New("boom")
	_, err := s.File("cfg", func() (*os.File, error) { return nil, errBoom })
	if !errors.Is(err, errBoom) {
		t.Fatalf("got %v; want an error wrapping %v", err, errBoom)
	}
	wantErrContains(t, err, `file (name "cfg")`, "open")
}

func TestFreshFile(t *testing.T) {
	testutil.CheckLeaks(t)
	s := newSet(t)
	path := filepath.Join(t.TempDir(), "log")
	calls := 0
	f, err := s.File("log", func() (*os.File, error) {
		calls++
		return os.Create(path)
	})
	if err != nil {
		t.Fatalf("File: %v", err)
	}
	defer f.Close()
	if calls != 1 {
		t.Errorf("open calls: got %d; want 1", calls)
	}
	want := []Info{{Name: "log", Network: "file", Addr: path}}
	if got := s.List(); !slices.Equal(got, want) {
		t.Errorf("List: got %+v; want %+v", got, want)
	}
}
