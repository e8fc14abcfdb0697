//go:build linux

package harness

import (
	"fmt"
	"net"
	"net/http"
	"time"
)

// FreeAddr returns a loopback TCP address that was free a moment ago.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free loopback address: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// ServedBy does one GET / on a fresh connection to addr and returns its
// X-Pid header: which process of the demo contract answered.
func ServedBy(addr string, timeout time.Duration) (string, error) {
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	return resp.Header.Get("X-Pid"), nil
}
