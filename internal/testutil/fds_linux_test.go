//go:build linux

package testutil

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB whose cleanups run when the test says and
// whose errors are kept, not reported.
type recorder struct {
	testing.TB
	cleanups []func()
	errs     []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Cleanup(f func())          { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Errorf(f string, a ...any) { r.errs = append(r.errs, fmt.Sprintf(f, a...)) }

func (r *recorder) finish() string {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	return strings.Join(r.errs, "\n")
}

func TestCheckLeaks(t *testing.T) {
	defer func(d time.Duration) { leakWait = d }(leakWait)
	leakWait = 50 * time.Millisecond
	kept, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	// One goroutine that ends during a test, so that a new one takes its
	// place in the count.
	ending, ended := make(chan struct{}), make(chan struct{})
	go func() { <-ending; close(ended) }()
	defer func() {
		select {
		case <-ended:
		default:
			close(ending)
		}
	}()
	tests := []struct {
		name string
		do   func(t *testing.T) (undo func())
		want string // in the error; "" for none
	}{
		{name: "nothing", do: func(*testing.T) func() { return func() {} }},
		{name: "a file left open", want: "1 fds opened and not closed:", do: func(t *testing.T) func() {
			f, err := os.CreateTemp(t.TempDir(), "leaked")
			if err != nil {
				t.Fatal(err)
			}
			return func() { f.Close() }
		}},
		{name: "a file closed that was open before", want: "1 fds closed that were open before:", do: func(*testing.T) func() {
			kept.Close()
			return func() {}
		}},
		{name: "a goroutine left running", want: "goroutines:", do: func(*testing.T) func() {
			stop := make(chan struct{})
			go func() { <-stop }()
			return func() { close(stop) }
		}},
		{name: "a goroutine left running while another ended", want: "goroutines:", do: func(*testing.T) func() {
			close(ending)
			<-ended
			stop := make(chan struct{})
			go func() { <-stop }()
			return func() { close(stop) }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			CheckLeaks(r)
			undo := tt.do(t)
			got := r.finish()
			undo()
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("CheckLeaks reported %q; want %q", got, tt.want)
			}
		})
	}
}
