//go:build linux

package main

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// median returns the middle of ds (the mean of the two middle values for
// an even count), or 0 for none. ds is not modified.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// ds: the smallest value at least p% of the values are at or below. It
// returns 0 for none. ds is not modified.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := ds
	if !slices.IsSorted(ds) {
		s = slices.Sorted(slices.Values(ds))
	}
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// ms formats a duration in milliseconds with a precision that suits it.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}

// formatCounts formats error counts as "eof=3, reset=1", largest first; "none"
// when empty.
func formatCounts(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := largestFirst(m)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// largestFirst is m's keys by count, largest first, then by name.
func largestFirst[M ~map[string]V, V int | int64](m M) []string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(m[b], m[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return keys
}

// dist summarizes a series of durations: how many, and nearest-rank
// quantiles. Every section that reports a median or a p99 of a series
// gets it here.
type dist struct {
	N      int           `json:"n"`
	Min    time.Duration `json:"min_ns"`
	Median time.Duration `json:"median_ns"`
	P90    time.Duration `json:"p90_ns"`
	P99    time.Duration `json:"p99_ns"`
	Max    time.Duration `json:"max_ns"`
}

// summarize is ds's dist; ds is not modified.
func summarize(ds []time.Duration) dist {
	if len(ds) == 0 {
		return dist{}
	}
	s := slices.Sorted(slices.Values(ds))
	return dist{N: len(s), Min: s[0], Median: median(s), P90: percentile(s, 90), P99: percentile(s, 99), Max: s[len(s)-1]}
}

// floatDist is dist for plain numbers (ratios).
type floatDist struct {
	N      int     `json:"n"`
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
}

// summarizeFloats is vs's floatDist, leaving out values JSON cannot hold.
func summarizeFloats(vs []float64) floatDist {
	var s []float64
	for _, v := range vs {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			s = append(s, v)
		}
	}
	if len(s) == 0 {
		return floatDist{}
	}
	slices.Sort(s)
	mid := s[len(s)/2]
	if len(s)%2 == 0 {
		mid = (s[len(s)/2-1] + mid) / 2
	}
	return floatDist{N: len(s), Min: s[0], Median: mid, Max: s[len(s)-1]}
}
