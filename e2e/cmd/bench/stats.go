//go:build linux

package main

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
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

// ratio formats a/b as "1.23x", or "n/a" when b is not positive.
func ratio(a, b float64) string {
	if b <= 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", a/b)
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

// verdict is "met" or "not met".
func verdict(met bool) string {
	if met {
		return "met"
	}
	return "not met"
}

// formatCounts formats error counts as "eof=3, reset=1", largest first; "none"
// when empty.
func formatCounts(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// goal is a target on a ratio: at most limit, or at least it.
type goal struct {
	limit   float64
	atLeast bool
}

func (g goal) String() string {
	limit := strconv.FormatFloat(g.limit, 'f', -1, 64)
	if !strings.Contains(limit, ".") {
		limit += ".0"
	}
	if g.atLeast {
		return ">= " + limit + "x"
	}
	return "<= " + limit + "x"
}

func (g goal) met(v float64) bool {
	if g.atLeast {
		return v >= g.limit
	}
	return v <= g.limit
}

// judge renders "<= 1.3x: met", adding the value to four places where
// two would not show which side of the limit it falls; measured is false
// when there is no value.
func (g goal) judge(v float64, measured bool) string {
	if !measured || math.IsNaN(v) || math.IsInf(v, 0) {
		return g.String() + ": not measured"
	}
	out := g.String() + ": " + verdict(g.met(v))
	if fmt.Sprintf("%.2f", v) == fmt.Sprintf("%.2f", g.limit) {
		out += fmt.Sprintf(" (%.4fx)", v)
	}
	return out
}
