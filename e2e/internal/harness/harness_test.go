//go:build linux

package harness

import (
	"errors"
	"testing"
	"time"
)

func TestPollGivesUp(t *testing.T) {
	if err := Poll(20*time.Millisecond, func() bool { return false }); !errors.Is(err, ErrNotYet) {
		t.Errorf("Poll of a condition never met: got %v; want ErrNotYet", err)
	}
	n := 0
	if err := Poll(time.Second, func() bool { n++; return n == 3 }); err != nil {
		t.Errorf("Poll of a condition met on the third call: got %v", err)
	}
	if Until(time.Now().Add(20*time.Millisecond), time.Millisecond, func() bool { return false }) {
		t.Error("Until of a condition never met: got true")
	}
}

func TestTail(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{in: "a\nb\nc\n", n: 2, want: "b\nc"},
		{in: "a\nb", n: 5, want: "a\nb"},
		{in: "", n: 1, want: ""},
	}
	for _, tt := range tests {
		if got := Tail(tt.in, tt.n); got != tt.want {
			t.Errorf("Tail(%q, %d): got %q; want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
