//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"strings"
)

// logSummary counts the warnings and errors a server logged, by level,
// message and error ("WARN upgrade refused: upgrader: not ready yet").
type logSummary map[string]int

// notJSON keys the lines of a log that are not slog JSON records: a
// panic's trace, or the runtime's own complaints.
const notJSON = "lines that are not JSON"

// logRecord is the part of a slog JSON record the summary keys by.
type logRecord struct {
	Level string `json:"level"`
	Msg   string `json:"msg"`
	Err   any    `json:"err"`
}

// summarizeLog decodes a server's JSON log (-log-format json) and counts
// its WARN and ERROR records.
func summarizeLog(text string) logSummary {
	sum := logSummary{}
	for line := range strings.SplitSeq(text, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var r logRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			sum[notJSON]++
			continue
		}
		if r.Level != "WARN" && r.Level != "ERROR" {
			continue
		}
		key := r.Level + " " + r.Msg
		if r.Err != nil {
			key += fmt.Sprintf(": %v", r.Err)
		}
		sum[key]++
	}
	return sum
}

// String lists the messages, most frequent first.
func (s logSummary) String() string {
	keys := largestFirst(s)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d× %s", s[k], k)
	}
	return strings.Join(parts, "; ")
}
