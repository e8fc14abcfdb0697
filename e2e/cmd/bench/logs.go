//go:build linux

package main

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

// logSummary counts the warnings and errors a server logged, by message.
type logSummary map[string]int

var (
	levelRE = regexp.MustCompile(`\blevel=(WARN|ERROR)\b`)
	msgRE   = regexp.MustCompile(`\bmsg=("(?:[^"\\]|\\.)*"|\S+)`)
	errRE   = regexp.MustCompile(`\berr=("(?:[^"\\]|\\.)*"|\S+)`)
)

// summarizeLogText keys each WARN or ERROR line by its level, msg and err.
func summarizeLogText(text string) logSummary {
	sum := logSummary{}
	for line := range strings.SplitSeq(text, "\n") {
		lv := levelRE.FindStringSubmatch(line)
		if lv == nil {
			continue
		}
		key := lv[1]
		if m := msgRE.FindStringSubmatch(line); m != nil {
			key += " " + strings.Trim(m[1], `"`)
		}
		if e := errRE.FindStringSubmatch(line); e != nil {
			key += ": " + strings.Trim(e[1], `"`)
		}
		sum[key]++
	}
	return sum
}

// String lists the messages, most frequent first.
func (s logSummary) String() string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if s[keys[i]] != s[keys[j]] {
			return s[keys[i]] > s[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d× %s", s[k], k)
	}
	return strings.Join(parts, "; ")
}

// lastLogLine is the last non-empty line of a log, for failure reasons.
func lastLogLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "no log"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if last := lines[len(lines)-1]; last != "" {
		return last
	}
	return "empty log"
}

// refusalRE matches the line either server logs when it does not upgrade:
// handoff's "upgrade refused" (WARN) and "upgrade failed" (ERROR), and
// tfdemo's "upgrade failed" (WARN, also for tableflip's refusals).
var refusalRE = regexp.MustCompile(`\bmsg="upgrade (refused|failed)"`)

// findRefusal returns why the first refused or failed upgrade in text did
// not happen ("upgrade refused: <err>"), or "" if text logs none.
func findRefusal(text string) string {
	for line := range strings.SplitSeq(text, "\n") {
		m := refusalRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		reason := "upgrade " + m[1]
		if e := errRE.FindStringSubmatch(line); e != nil {
			reason += ": " + strings.Trim(e[1], `"`)
		}
		return reason
	}
	return ""
}

// refusalSince looks for a refusal in what path gained after offset.
func refusalSince(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, offset, 1<<20))
	if err != nil {
		return ""
	}
	return findRefusal(string(b))
}

// logSize is path's length now, the offset later lines start from.
func logSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// phases splits handoff upgrades by the demo's log lines (millisecond
// timestamps): the old process's "new process started" → the new one's
// "upgrader started" (exec, runtime start, handshake, every fd received)
// → its "ready" (listeners claimed by name, Ready acknowledged).
type phases struct {
	toStarted, toReady []time.Duration
}

var (
	spawnedRE = regexp.MustCompile(`^time=(\S+) .*msg="new process started" .*new_pid=(\d+)`)
	startedRE = regexp.MustCompile(`^time=(\S+) .*msg="upgrader started" pid=(\d+) .*mode=child`)
	readyRE   = regexp.MustCompile(`^time=(\S+) .*msg=ready pid=(\d+) .*mode=child`)
)

// handoffPhases reads phases from a handoff demo log; other logs give none.
func handoffPhases(log string) phases {
	var at [3]map[string]time.Time
	for i := range at {
		at[i] = map[string]time.Time{}
	}
	for line := range strings.SplitSeq(log, "\n") {
		for i, re := range []*regexp.Regexp{spawnedRE, startedRE, readyRE} {
			if m := re.FindStringSubmatch(line); m != nil {
				if t, err := time.Parse(time.RFC3339Nano, m[1]); err == nil {
					at[i][m[2]] = t
				}
			}
		}
	}
	var p phases
	for pid, spawned := range at[0] {
		started, ok1 := at[1][pid]
		ready, ok2 := at[2][pid]
		if ok1 && ok2 {
			p.toStarted = append(p.toStarted, started.Sub(spawned))
			p.toReady = append(p.toReady, ready.Sub(started))
		}
	}
	return p
}
