package procfs

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// statLine is a /proc/<pid>/stat line as Linux 6.x writes it, with the
// given name, state, ppid, pgrp and start time.
func statLine(pid int, comm string, state byte, ppid, pgrp int, start uint64) string {
	return fmt.Sprintf("%d (%s) %s %d %d %d 0 -1 4194560 1180 0 0 0 3 1 0 0 20 0 1 0 %d 8957952 936 "+
		"18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
		pid, comm, []byte{state}, ppid, pgrp, pgrp, start)
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		name string
		line string // "" for the line statLine writes of want
		want Stat
	}{
		{name: "plain", want: Stat{PID: 42, Comm: "demo", State: 'S', PPID: 1, PGRP: 42, Start: 123456}},
		{name: "name with spaces", want: Stat{PID: 7, Comm: "my server", State: 'R', PPID: 3, PGRP: 5, Start: 9}},
		{name: "name with parentheses", want: Stat{PID: 7, Comm: "a) Z 1 2 (b", State: 'S', PPID: 3, PGRP: 5, Start: 9}},
		{name: "name that is a closing parenthesis", want: Stat{PID: 8, Comm: ")", State: 'S', PPID: 1, PGRP: 1, Start: 2}},
		{name: "empty name", want: Stat{PID: 8, State: 'D', PPID: 1, PGRP: 1, Start: 2}},
		{name: "zombie", want: Stat{PID: 99, Comm: "sh", State: 'Z', PPID: 98, PGRP: 98, Start: 77}},
		{name: "exactly 22 fields, no newline", line: "5 (x) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 31",
			want: Stat{PID: 5, Comm: "x", State: 'S', PPID: 1, PGRP: 5, Start: 31}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line, w := tt.line, tt.want
			if line == "" {
				line = statLine(w.PID, w.Comm, w.State, w.PPID, w.PGRP, w.Start)
			}
			got, err := ParseStat([]byte(line))
			if err != nil || got != w {
				t.Errorf("ParseStat(%q) = %+v, %v; want %+v", line, got, err, w)
			}
		})
	}
}

func TestParseStatRejects(t *testing.T) {
	full := statLine(42, "demo", 'S', 1, 42, 123456)
	tests := []struct {
		name, line, msg string
	}{
		{"empty", "", `no "pid (name)"`},
		{"no name", "42 S 1 42", `no "pid (name)"`},
		{"unclosed name", "42 (demo S 1 42", `no "pid (name)"`},
		{"no pid", "(demo) S 1 42", `no "pid (name)"`},
		{"pid not a number", "x4 (demo) S 1 42", `pid "x4"`},
		{"negative pid", "-4 (demo) S 1 42", `pid "-4"`},
		{"no space after the name", strings.Replace(full, ") S", ")S", 1), "no space after"},
		{"short line", "42 (demo) S 1 42 42 0 -1", "8 fields; want at least 22"},
		{"truncated before starttime", full[:strings.Index(full, " 123456")], "21 fields"},
		{"two-letter state", strings.Replace(full, ") S", ") SS", 1), `state "SS"`},
		{"state not a letter", strings.Replace(full, ") S", ") 1", 1), `state "1"`},
		{"ppid not a number", strings.Replace(full, ") S 1 ", ") S one ", 1), `"one"`},
		{"start time negative", strings.Replace(full, " 123456 ", " -1 ", 1), `"-1"`},
		{"start time overflows", strings.Replace(full, " 123456 ", " 18446744073709551616 ", 1), "out of range"},
		{"binary garbage", "\x00\xff()\x00", `no "pid (name)"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tt.line))
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("ParseStat(%q) = %+v, %v; want an error wrapping ErrMalformed that says %q", tt.line, got, err, tt.msg)
			}
			if got != (Stat{}) {
				t.Errorf("ParseStat(%q) returned %+v with its error; want the zero Stat", tt.line, got)
			}
		})
	}
}

func TestRunning(t *testing.T) {
	for state, want := range map[byte]bool{'R': true, 'S': true, 'D': true, 'T': true, 'Z': false, 'X': false, 'x': false} {
		if got := (Stat{State: state}).Running(); got != want {
			t.Errorf("Stat{State: %q}.Running() = %v; want %v", state, got, want)
		}
	}
}

// FuzzParseStat feeds ParseStat arbitrary bytes: it must not panic, and
// whatever it accepts must read back the same once written out again.
func FuzzParseStat(f *testing.F) {
	f.Add([]byte(statLine(42, "demo", 'S', 1, 42, 123456)))
	f.Add([]byte(statLine(7, "a) Z 1 2 (b", 'Z', 3, 5, 9)))
	f.Add([]byte("5 (x) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 31"))
	f.Add([]byte("1 ("))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseStat(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || st != (Stat{}) {
				t.Fatalf("ParseStat(%q) = %+v, %v; want the zero Stat and ErrMalformed", b, st, err)
			}
			return
		}
		again, err := ParseStat([]byte(statLine(st.PID, st.Comm, st.State, st.PPID, st.PGRP, st.Start)))
		if err != nil || again != st {
			t.Fatalf("ParseStat(%q) = %+v; written out and parsed again: %+v, %v", b, st, again, err)
		}
	})
}
