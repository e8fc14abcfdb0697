//go:build linux

package harness

import (
	"net/http"
	"time"
)

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
