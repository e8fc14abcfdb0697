package testutil

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawTimeout bounds every step on a RawConn; reaching it is a failure.
const rawTimeout = 10 * time.Second

// RawConn is one HTTP/1.1 client connection spoken by hand: it never
// redials or retries, so whatever answers on it is the same socket, and
// every error is a lost request.
type RawConn struct {
	Conn net.Conn
	R    *bufio.Reader // reads Conn; read responses through it
}

// DialRaw dials addr over TCP. It does not touch a testing.T, so it may
// run off the test goroutine; the caller closes c.Conn.
func DialRaw(addr string) (*RawConn, error) {
	c, err := net.DialTimeout("tcp", addr, rawTimeout)
	if err != nil {
		return nil, err
	}
	return &RawConn{Conn: c, R: bufio.NewReader(c)}, nil
}

// MustDialRaw is DialRaw that fails t (on the test goroutine) on error and
// closes the connection at cleanup.
func MustDialRaw(t testing.TB, addr string) *RawConn {
	t.Helper()
	c, err := DialRaw(addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Conn.Close() })
	return c
}

// Send writes a GET of path, with header lines ("X-Id: 7") after Host.
func (c *RawConn) Send(path string, header ...string) error {
	c.Conn.SetDeadline(time.Now().Add(rawTimeout))
	var extra string
	for _, h := range header {
		extra += h + "\r\n"
	}
	_, err := fmt.Fprintf(c.Conn, "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n", path, extra)
	return err
}

// ReadResponse reads one response and its whole body.
func (c *RawConn) ReadResponse() (*http.Response, string, error) {
	c.Conn.SetDeadline(time.Now().Add(rawTimeout))
	resp, err := http.ReadResponse(c.R, nil)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	var body strings.Builder
	_, err = io.Copy(&body, resp.Body)
	return resp, body.String(), err
}

// Get sends a GET and reads its response.
func (c *RawConn) Get(path string, header ...string) (*http.Response, string, error) {
	if err := c.Send(path, header...); err != nil {
		return nil, "", err
	}
	return c.ReadResponse()
}

// WaitEOF waits until the server closes the connection, and fails t if
// anything else arrives first.
func (c *RawConn) WaitEOF(t testing.TB) {
	t.Helper()
	c.Conn.SetReadDeadline(time.Now().Add(rawTimeout))
	b, err := c.R.ReadByte()
	if err != io.EOF {
		t.Fatalf("read on a connection the server should close: %q, %v; want EOF", b, err)
	}
}
