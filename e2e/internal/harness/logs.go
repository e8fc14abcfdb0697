//go:build linux

package harness

import (
	"os"
	"strings"
)

// Tail is the last n lines of text.
func Tail(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// LastLogLine is the last non-empty line of the log at path, for failure
// reasons.
func LastLogLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "no log"
	}
	if s := strings.TrimSpace(string(b)); s != "" {
		return Tail(s, 1)
	}
	return "empty log"
}
