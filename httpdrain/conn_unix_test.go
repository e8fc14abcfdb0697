//go:build unix

package httpdrain

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"
)

const request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"

// acceptIdle returns a server-side conn, as the drain sees it, that the
// http.Server has marked idle, and the client end.
func acceptIdle(t *testing.T, s *Server) (*conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	nc, err := (&listener{Listener: ln, s: s}).Accept()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	s.connState(nc, http.StateIdle)
	return nc.(*conn), client
}

// waitQueued waits until n bytes sit unread in c's receive buffer.
func waitQueued(t *testing.T, c net.Conn, n int) {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatalf("SyscallConn: %v", err)
	}
	buf := make([]byte, n)
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		var got int
		rc.Control(func(fd uintptr) {
			got, _, _ = syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK)
		})
		if got == n {
			return
		}
	}
	t.Fatalf("request not in the receive buffer after 10s")
}

func TestKickedIdleConn(t *testing.T) {
	tests := []struct {
		name       string
		queued     string // already in the receive buffer when kicked
		midRequest bool   // the server has read part of a request
		wantRead   string
		wantErr    error
		wantLive   int
	}{
		{name: "nothing queued: closed", wantErr: errIdleClosed, wantLive: 0},
		{name: "request queued: handed over", queued: request, wantRead: request, wantLive: 1},
		{name: "request being read: left alone", midRequest: true, queued: request, wantRead: request, wantLive: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(&http.Server{}, Options{IdleGrace: time.Millisecond})
			c, client := acceptIdle(t, s)
			c.readSinceIdle.Store(tt.midRequest)
			if tt.queued != "" {
				if _, err := io.WriteString(client, tt.queued); err != nil {
					t.Fatalf("write: %v", err)
				}
				waitQueued(t, c.Conn, len(tt.queued))
			}
			s.sweep(time.Now().Add(time.Hour))
			if kicked := c.isKicked(); kicked == tt.midRequest {
				t.Fatalf("kicked = %v; want %v", kicked, !tt.midRequest)
			}
			buf := make([]byte, 512)
			n, err := c.Read(buf)
			if string(buf[:n]) != tt.wantRead || !errors.Is(err, tt.wantErr) {
				t.Errorf("Read = %q, %v; want %q, %v", buf[:n], err, tt.wantRead, tt.wantErr)
			}
			if got := s.live(); got != tt.wantLive {
				t.Errorf("live conns = %d; want %d", got, tt.wantLive)
			}
		})
	}
}

func TestOwnReadDeadlineStillTimesOut(t *testing.T) {
	s := New(&http.Server{}, Options{})
	c, _ := acceptIdle(t, s)
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read past the server's own deadline = %v; want os.ErrDeadlineExceeded", err)
	}
}

func TestKickKeepsPastServerDeadline(t *testing.T) {
	s := New(&http.Server{}, Options{IdleGrace: time.Millisecond})
	c, client := acceptIdle(t, s)
	s.sweep(time.Now().Add(time.Hour))
	// The server arms its idle timeout right after going idle, possibly
	// after the kick; the kick must win.
	c.SetReadDeadline(time.Now().Add(time.Hour))
	_, err := c.Read(make([]byte, 1))
	if !errors.Is(err, errIdleClosed) {
		t.Fatalf("Read on kicked conn = %v; want errIdleClosed", err)
	}
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := client.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("client read = %v; want EOF", err)
	}
}

// isKicked reports whether the drain has woken c's reader.
func (c *conn) isKicked() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kicked
}
