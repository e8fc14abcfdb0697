package upgrader

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/handoff-go/handoff/control"
)

// bare is an Upgrader with nothing but its lifecycle, in state from.
func bare(mode Mode, from control.State) *Upgrader {
	u := &Upgrader{opts: withDefaults(Options{}), mode: mode, exit: make(chan struct{})}
	u.lc = newLifecycle(mode == ModeCold, nil)
	u.lc.state = from
	return u
}

func locked(u *Upgrader, f func()) {
	u.mu.Lock()
	defer u.mu.Unlock()
	f()
}

// Every state change outside the table is refused loudly, and every one
// in it is taken.
func TestEnterOnlyListedTransitions(t *testing.T) {
	all := []control.State{control.StateStarting, control.StateReadying, control.StateServing,
		control.StateUpgrading, control.StateDraining, control.StateStopped}
	for _, from := range all {
		for _, to := range all {
			listed := false
			for _, ok := range transitions[from] {
				listed = listed || ok == to
			}
			t.Run(fmt.Sprintf("%s to %s", from, to), func(t *testing.T) {
				u := bare(ModeCold, from)
				panicked := func() (p bool) {
					defer func() { p = recover() != nil }()
					u.enterLocked(to)
					return false
				}()
				if panicked == listed {
					t.Errorf("panicked %v; want %v (listed: %v)", panicked, !listed, listed)
				}
				if !panicked && u.lc.state != to {
					t.Errorf("state: got %s; want %s", u.lc.state, to)
				}
			})
		}
	}
}

// Exit closes once, for the first reason, whichever path closes it, and
// ExitReason reports that reason.
func TestExitReasons(t *testing.T) {
	refused := errors.New("refused")
	tests := []struct {
		name  string
		mode  Mode
		from  control.State
		steps func(u *Upgrader)
		want  ExitReason // "": Exit stays open
		state control.State
	}{
		{name: "ready refused", mode: ModeChild, from: control.StateStarting, steps: func(u *Upgrader) {
			u.beginReady()
			locked(u, func() { u.endReadyLocked(refused, false) })
		}, want: ExitReadyRefused, state: control.StateDraining},
		{name: "cold ready failed", mode: ModeCold, from: control.StateStarting, steps: func(u *Upgrader) {
			u.beginReady()
			locked(u, func() { u.endReadyLocked(refused, false) })
		}, state: control.StateStarting},
		{name: "handed over, then stopped", mode: ModeCold, from: control.StateServing, steps: func(u *Upgrader) {
			locked(u, func() {
				u.beginUpgradeLocked(func() {})
				close(u.endUpgradeLocked(42, nil, nil))
			})
			u.closeExit(ExitHandedOver)
			locked(u, func() { u.stopLocked() })
		}, want: ExitHandedOver, state: control.StateStopped},
		{name: "failed upgrade", mode: ModeCold, from: control.StateServing, steps: func(u *Upgrader) {
			locked(u, func() {
				u.beginUpgradeLocked(func() {})
				close(u.endUpgradeLocked(42, nil, refused))
			})
		}, state: control.StateServing},
		{name: "stop requested", mode: ModeCold, from: control.StateServing, steps: func(u *Upgrader) {
			locked(u, func() { u.acceptStopLocked() })
			u.closeExit(ExitStopRequested)
		}, want: ExitStopRequested, state: control.StateServing},
		{name: "stopped", mode: ModeCold, from: control.StateStarting, steps: func(u *Upgrader) {
			locked(u, func() { u.stopLocked() })
		}, want: ExitStopped, state: control.StateStopped},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := bare(tc.mode, tc.from)
			tc.steps(u)
			if got := u.ExitReason(); got != tc.want {
				t.Errorf("ExitReason(): got %q; want %q", got, tc.want)
			}
			select {
			case <-u.exit:
				if tc.want == "" {
					t.Error("Exit closed; want it open")
				}
			default:
				if tc.want != "" {
					t.Error("Exit open; want it closed")
				}
			}
			if u.lc.state != tc.state {
				t.Errorf("state: got %s; want %s", u.lc.state, tc.state)
			}
		})
	}
}

// A stop request and an upgrade refuse each other with the same reasons.
func TestStopRequestRefusesUpgrades(t *testing.T) {
	u := bare(ModeCold, control.StateServing)
	if err := u.acceptStopLocked(); err != nil {
		t.Fatal(err)
	}
	if _, err := u.beginUpgradeLocked(func() {}); !errors.Is(err, ErrStopped) {
		t.Errorf("upgrade after a stop request: got %v; want ErrStopped", err)
	}
	u = bare(ModeCold, control.StateStarting)
	if err := u.acceptStopLocked(); !errors.Is(err, ErrNotReady) {
		t.Errorf("stop request before Ready: got %v; want ErrNotReady", err)
	}
	_, cancel := context.WithCancel(context.Background())
	defer cancel()
	u = bare(ModeCold, control.StateServing)
	u.beginUpgradeLocked(cancel)
	if err := u.acceptStopLocked(); !errors.Is(err, ErrUpgradeInProgress) {
		t.Errorf("stop request while upgrading: got %v; want ErrUpgradeInProgress", err)
	}
}

// TestResultCode: a refusal tells the control client its sentinel's code,
// however deeply wrapped; anything else is CodeFailed.
func TestResultCode(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{ErrStopped, control.CodeStopping},
		{fmt.Errorf("stop: %w", ErrStopped), control.CodeStopping},
		{ErrUpgradeInProgress, control.CodeInProgress},
		{ErrHandedOver, control.CodeHandedOver},
		{fmt.Errorf("%w: cannot stop before it serves", ErrNotReady), control.CodeNotReady},
		{ErrTooManyDraining, control.CodeTooManyDraining},
		{ErrNotSupported, control.CodeUnsupported},
		{ErrAlreadyReady, control.CodeFailed},
		{&UpgradeError{Step: "start", Err: errors.New("exec: no such file")}, control.CodeFailed},
	}
	for _, tt := range tests {
		if got := resultCode(tt.err); got != tt.want {
			t.Errorf("resultCode(%q): got %q; want %q", tt.err, got, tt.want)
		}
	}
}
