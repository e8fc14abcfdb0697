//go:build linux

package main

import "time"

// pollUntil calls cond every interval until it returns true (true) or the
// deadline passes (false).
func pollUntil(deadline time.Time, interval time.Duration, cond func() bool) bool {
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
}

// earliest returns the earlier of now+d and end.
func earliest(d time.Duration, end time.Time) time.Time {
	if t := time.Now().Add(d); t.Before(end) {
		return t
	}
	return end
}
