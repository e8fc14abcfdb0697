//go:build linux

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/handoff-go/handoff/e2e/internal/harness"
	"github.com/handoff-go/handoff/examples/grpc/echosvc"
	"github.com/handoff-go/handoff/internal/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

var grpcBin string // examples/grpc

func grpcBuilds(dir string) []harness.Target {
	grpcBin = filepath.Join(dir, "grpc")
	return []harness.Target{{Out: grpcBin, Pkg: "github.com/handoff-go/handoff/examples/grpc"}}
}

// grpcDrain is the example's -drain-timeout here: every old generation
// must be gone within it (plus the time to notice).
const grpcDrain = 10 * time.Second

// grpcCalls counts what the gRPC clients saw.
type grpcCalls struct {
	unary, streams, chats atomic.Int64 // completed, each checked
	failed                atomic.Int64
	unavailable           atomic.Int64
	mu                    sync.Mutex
	errs                  []string
}

func (c *grpcCalls) fail(err error) {
	c.failed.Add(1)
	if status.Code(err) == codes.Unavailable {
		c.unavailable.Add(1)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errs) < 5 {
		c.errs = append(c.errs, err.Error())
	}
}

// countStream reads one Count stream of n to its end: n messages from one
// pid, then the server's end of stream.
func countStream(ctx context.Context, cl *echosvc.Client, n int) error {
	st, err := cl.Count(ctx, n)
	if err != nil {
		return err
	}
	pid := ""
	for i := 0; ; i++ {
		var m echosvc.Msg
		err := st.RecvMsg(&m)
		if errors.Is(err, io.EOF) {
			if i != n {
				return fmt.Errorf("count: stream ended after %d of %d", i, n)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("count: message %d: %w", i, err)
		}
		p, _, _ := strings.Cut(m.Text, ":")
		if pid == "" {
			pid = p
		}
		if want := pid + ": " + strconv.Itoa(i); m.Text != want {
			return fmt.Errorf("count: got %q; want %q (one generation serves a stream to its end)", m.Text, want)
		}
	}
}

// chatStream sends n messages on one Chat stream, each answered before
// the next, then closes its side and waits for the server's end.
func chatStream(ctx context.Context, cl *echosvc.Client, n int) error {
	st, err := cl.Chat(ctx)
	if err != nil {
		return err
	}
	for i := range n {
		if err := st.SendMsg(&echosvc.Msg{Text: strconv.Itoa(i)}); err != nil {
			return fmt.Errorf("chat: send %d: %w", i, err)
		}
		var m echosvc.Msg
		if err := st.RecvMsg(&m); err != nil {
			return fmt.Errorf("chat: answer %d: %w", i, err)
		}
		if !strings.HasSuffix(m.Text, ": "+strconv.Itoa(i)) {
			return fmt.Errorf("chat: got %q for %d", m.Text, i)
		}
	}
	if err := st.CloseSend(); err != nil {
		return err
	}
	if err := st.RecvMsg(&echosvc.Msg{}); !errors.Is(err, io.EOF) {
		return fmt.Errorf("chat: after close: got %v; want the server's end of stream", err)
	}
	return nil
}

// TestGRPCAcrossUpgrades: unary calls, server streams and bidirectional
// streams run without a pause across 20 upgrades of the gRPC example: no
// call fails, none sees Unavailable, every stream is served to its end by
// one generation, and every old generation exits within the drain bound.
func TestGRPCAcrossUpgrades(t *testing.T) {
	dir := testutil.ShortDir(t)
	exe, pidFile := filepath.Join(dir, "grpc"), filepath.Join(dir, "grpc.pid")
	deploy(t, grpcBin, exe)
	addr := freeAddr(t)
	logPath := filepath.Join(dir, "grpc.log")
	first := startProc(t, exe, []string{"-listen", addr, "-pid-file", pidFile, "-control", filepath.Join(dir, "grpc.sock"),
		"-drain-timeout", grpcDrain.String(), "-probation", testProbation}, logPath, procOpts{newGroup: true})
	waitPID := func(ok func(int) bool) int {
		t.Helper()
		pid, err := harness.WaitPID(pidFile, 15*time.Second, ok)
		if err != nil {
			t.Fatal(err)
		}
		reaper.ForgetEarlier(pid)
		return pid
	}
	waitPID(func(p int) bool { return p == first })

	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cl := echosvc.NewClient(cc)
	var calls grpcCalls
	stop := make(chan struct{})
	var wg sync.WaitGroup
	loop := func(count *atomic.Int64, call func(ctx context.Context) error) {
		wg.Go(func() {
			for range 100_000 {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				err := call(ctx)
				cancel()
				if err != nil {
					calls.fail(err)
					continue
				}
				count.Add(1)
				time.Sleep(time.Millisecond) // paced: the machine is shared
			}
		})
	}
	for i := range 8 {
		loop(&calls.unary, func(ctx context.Context) error {
			got, err := cl.Hello(ctx, strconv.Itoa(i))
			if err == nil && !strings.HasSuffix(got, ": "+strconv.Itoa(i)) {
				err = fmt.Errorf("hello: got %q", got)
			}
			return err
		})
	}
	for range 2 {
		loop(&calls.streams, func(ctx context.Context) error { return countStream(ctx, cl, 30) })
		loop(&calls.chats, func(ctx context.Context) error { return chatStream(ctx, cl, 30) })
	}
	finish := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(finish)
	progress := func(what string) {
		t.Helper()
		u, s, c := calls.unary.Load(), calls.streams.Load(), calls.chats.Load()
		if err := harness.Poll(20*time.Second, func() bool {
			return calls.unary.Load() >= u+200 && calls.streams.Load() > s && calls.chats.Load() > c
		}); err != nil {
			t.Fatalf("%s: calls stalled (unary %d, streams %d, chats %d; failed %d: %q)", what,
				calls.unary.Load(), calls.streams.Load(), calls.chats.Load(), calls.failed.Load(), calls.errs)
		}
	}
	progress("before the first upgrade")

	type old struct {
		pid   int
		since time.Time
	}
	var olds []old
	pid := first
	for i := range 20 {
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		prev := pid
		pid = waitPID(func(p int) bool { return p != prev })
		olds = append(olds, old{prev, time.Now()})
		progress(fmt.Sprintf("upgrade %d", i+1))
		if n := calls.failed.Load(); n != 0 {
			t.Fatalf("upgrade %d: %d calls failed (%d Unavailable): %q", i+1, n, calls.unavailable.Load(), calls.errs)
		}
	}
	finish()
	for _, o := range olds {
		waitDrained(t, o.pid, o.since.Add(grpcDrain+5*time.Second))
	}
	t.Logf("gRPC across 20 upgrades: %d unary calls, %d server streams, %d bidi streams; %d failed, %d Unavailable",
		calls.unary.Load(), calls.streams.Load(), calls.chats.Load(), calls.failed.Load(), calls.unavailable.Load())
	if n := calls.failed.Load(); n != 0 {
		t.Fatalf("%d calls failed (%d Unavailable); want 0: %q", n, calls.unavailable.Load(), calls.errs)
	}
}
