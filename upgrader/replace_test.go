//go:build linux

package upgrader

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/handoff-go/handoff/control"
	"github.com/handoff-go/handoff/internal/runhooks"
	"github.com/handoff-go/handoff/internal/testutil"
	"github.com/handoff-go/handoff/internal/wire"
)

// hooked is opts with `handoff run`'s hooks, set the one way it can.
func hooked(opts Options, h runhooks.Hooks) Options {
	runhooks.Install(&opts, h)
	return opts
}

// TestReplaceKeepsServing: with the Replace hook an upgrade runs the
// caller's replacement, and on success this process stays the owner.
func TestReplaceKeepsServing(t *testing.T) {
	testutil.CheckLeaks(t)
	t.Setenv("NOTIFY_SOCKET", "")
	calls := 0
	u, addr := serving(t, hooked(Options{}, runhooks.Hooks{Replace: func(ctx context.Context, progress func(string, int, string)) (int, error) {
		calls++
		progress(control.EventStarted, 4242, "")
		return 4242, nil
	}}))
	if err := u.Upgrade(context.Background()); err != nil {
		t.Fatalf("Upgrade: %v; want nil", err)
	}
	select {
	case <-u.Exit():
		t.Fatal("Exit closed after a replacement; want this process to serve on")
	default:
	}
	st := u.status()
	if calls != 1 || st.State != "serving" || st.LastUpgrade == nil || st.LastUpgrade.NewPID != 4242 {
		t.Fatalf("after a replacement: %d calls, status %+v; want 1 call, serving, last upgrade to 4242", calls, st)
	}
	if got := getPID(addr); got != strconv.Itoa(os.Getpid()) {
		t.Fatalf("GET / after a replacement: X-Pid %q; want %d", got, os.Getpid())
	}
	if err := u.Upgrade(context.Background()); err != nil || calls != 2 {
		t.Fatalf("second Upgrade: %v after %d calls; want nil after 2", err, calls)
	}
}

// TestReplaceFailureIsAnUpgradeError: a failed or timed-out replacement
// is an *UpgradeError and leaves the process serving.
func TestReplaceFailureIsAnUpgradeError(t *testing.T) {
	testutil.CheckLeaks(t)
	t.Setenv("NOTIFY_SOCKET", "")
	boom := errors.New("child 99 exited (exit status 3)")
	tests := []struct {
		name    string
		replace func(context.Context, func(string, int, string)) (int, error)
		want    error
	}{
		{"error", func(context.Context, func(string, int, string)) (int, error) { return 99, boom }, boom},
		{"timeout", func(ctx context.Context, _ func(string, int, string)) (int, error) {
			<-ctx.Done()
			return 99, ctx.Err()
		}, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, _ := serving(t, hooked(Options{UpgradeTimeout: 50 * time.Millisecond}, runhooks.Hooks{Replace: tc.replace}))
			err := u.Upgrade(context.Background())
			var ue *UpgradeError
			if !errors.As(err, &ue) || ue.PID != 99 || !errors.Is(err, tc.want) {
				t.Fatalf("Upgrade: %v; want an *UpgradeError for pid 99 wrapping %v", err, tc.want)
			}
			if st := u.status(); st.State != "serving" || st.LastUpgrade == nil || st.LastUpgrade.Error == "" {
				t.Fatalf("after a failed replacement: %+v; want serving with the error recorded", st)
			}
		})
	}
}

// TestReplaceOverControlSocket: a control client sees the replacement's
// progress and result, then the server hangs up (nothing to linger for),
// and the status carries the StatusDetail.
func TestReplaceOverControlSocket(t *testing.T) {
	testutil.CheckLeaks(t)
	t.Setenv("NOTIFY_SOCKET", "")
	ctl := filepath.Join(testutil.ShortDir(t), "ctl.sock")
	serving(t, hooked(Options{ControlPath: ctl}, runhooks.Hooks{
		Replace: func(ctx context.Context, progress func(string, int, string)) (int, error) {
			progress(control.EventStarted, 7, "")
			progress(control.EventReady, 7, "")
			return 7, nil
		},
		StatusDetail: func() any { return map[string]int{"children": 1} },
	}))
	c := request(t, ctl, wire.Request{Op: wire.OpUpgrade})
	var events []string
	for {
		m, err := c.Recv()
		if err != nil {
			t.Fatalf("after %v: %v; want progress then a result", events, err)
		}
		if m.Type == wire.TypeResult {
			var res wire.Result
			if err := m.Decode(&res); err != nil || !res.OK || res.PID != 7 {
				t.Fatalf("result %+v, %v; want OK for pid 7", res, err)
			}
			break
		}
		var p wire.Progress
		m.Decode(&p)
		events = append(events, p.Event)
	}
	if want := control.EventUpgrading + "," + control.EventStarted + "," + control.EventReady; strings.Join(events, ",") != want {
		t.Fatalf("progress %v; want %s", events, want)
	}
	if _, err := c.Recv(); !errors.Is(err, wire.ErrClosed) {
		t.Fatalf("after the result: %v; want the server to hang up", err)
	}
	var detail map[string]int
	if err := json.Unmarshal(status(t, ctl).Detail, &detail); err != nil || detail["children"] != 1 {
		t.Fatalf("status detail %v, %v; want children=1", detail, err)
	}
}
