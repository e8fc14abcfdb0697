//go:build linux

package main

import (
	"errors"
	"regexp"
	"strconv"
)

// wrkResult is what wrk printed at the end of a run.
type wrkResult struct {
	requests                      int64 // completed, whatever their status
	connect, read, write, timeout int64 // "Socket errors"
	non2xx                        int64 // "Non-2xx or 3xx responses"
	requestsPerSec                float64
}

// lost is every request wrk counts as failed.
func (w wrkResult) lost() int64 { return w.connect + w.read + w.write + w.timeout + w.non2xx }

// breakdown is the non-zero error kinds, for reports.
func (w wrkResult) breakdown() map[string]int64 {
	m := map[string]int64{}
	for k, v := range map[string]int64{"connect": w.connect, "read": w.read,
		"write": w.write, "timeout": w.timeout, "non-2xx/3xx": w.non2xx} {
		if v > 0 {
			m[k] = v
		}
	}
	return m
}

var (
	wrkRequestsRE = regexp.MustCompile(`(?m)^\s*(\d+) requests in `)
	wrkSocketRE   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xxRE   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkRateRE     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
)

// errNoWrkSummary means wrk's output lacks its summary: it did not finish.
var errNoWrkSummary = errors.New(`wrk output has no "N requests in" line`)

// parseWrk reads wrk's summary. The error lines appear only when their
// counts are not zero, so their absence means zero.
func parseWrk(out string) (wrkResult, error) {
	var w wrkResult
	m := wrkRequestsRE.FindStringSubmatch(out)
	if m == nil {
		return w, errNoWrkSummary
	}
	w.requests = atoi64(m[1])
	if m := wrkSocketRE.FindStringSubmatch(out); m != nil {
		w.connect, w.read, w.write, w.timeout = atoi64(m[1]), atoi64(m[2]), atoi64(m[3]), atoi64(m[4])
	}
	if m := wrkNon2xxRE.FindStringSubmatch(out); m != nil {
		w.non2xx = atoi64(m[1])
	}
	if m := wrkRateRE.FindStringSubmatch(out); m != nil {
		w.requestsPerSec, _ = strconv.ParseFloat(m[1], 64)
	}
	return w, nil
}

// atoi64 parses digits the regexps already matched.
func atoi64(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
