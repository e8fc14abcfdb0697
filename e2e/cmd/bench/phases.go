//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// fileSize is path's length now, the offset later lines start from.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readStamps decodes the events path gained after offset.
func readStamps(path string, offset int64) []stamp {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	return decodeStamps(io.NewSectionReader(f, offset, 1<<20))
}

// decodeStamps reads tfdemo's events, one JSON object a line. A line that
// does not decode (the last one, cut short as it is being written) is
// skipped.
func decodeStamps(r io.Reader) []stamp {
	var out []stamp
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var st stamp
		if line := strings.TrimSpace(sc.Text()); line != "" && json.Unmarshal([]byte(line), &st) == nil {
			out = append(out, st)
		}
	}
	return out
}

// phases is one upgrade cut into the steps the server itself reported.
// A step the server does not report (tableflip has no handed-over, and no
// control connection to hang up) is absent: its ok flag is false.
type phases struct {
	started, handedOver, ready time.Duration // from the trigger
	hangup, gone               time.Duration // from ready
	ok                         map[string]bool
}

// phasesOf times one upgrade from its trigger at start, the steps the
// server reported and the moment the old process was seen gone. newPID
// picks the steps of the new process out of a file every generation
// writes to.
func phasesOf(start time.Time, newPID int, steps []stamp, gone time.Time) phases {
	at := map[string]time.Time{}
	for _, st := range steps {
		mine := st.PID == newPID || st.Event == stepHangup || st.Event == stepResult
		if _, seen := at[st.Event]; mine && !seen {
			at[st.Event] = st.Time
		}
	}
	p := phases{ok: map[string]bool{}}
	set := func(name string, d *time.Duration, from time.Time, to string) {
		if t, ok := at[to]; ok && !from.IsZero() {
			*d, p.ok[name] = t.Sub(from), true
		}
	}
	set("started", &p.started, start, "started")
	set("handed-over", &p.handedOver, start, "handed-over")
	set("ready", &p.ready, start, "ready")
	ready := at["ready"]
	set("hangup", &p.hangup, ready, stepHangup)
	if !ready.IsZero() && !gone.IsZero() {
		p.gone, p.ok["gone"] = gone.Sub(ready), true
	}
	return p
}

// phaseSamples gathers the phases of a series, step by step.
type phaseSamples struct {
	started, handedOver, ready, hangup, gone []time.Duration
}

func (s *phaseSamples) add(p phases) {
	for _, f := range []struct {
		name string
		to   *[]time.Duration
		d    time.Duration
	}{
		{"started", &s.started, p.started}, {"handed-over", &s.handedOver, p.handedOver},
		{"ready", &s.ready, p.ready}, {"hangup", &s.hangup, p.hangup}, {"gone", &s.gone, p.gone},
	} {
		if p.ok[f.name] {
			*f.to = append(*f.to, f.d)
		}
	}
}

// plus is s and t together.
func (s phaseSamples) plus(t phaseSamples) phaseSamples {
	return phaseSamples{started: slices.Concat(s.started, t.started), handedOver: slices.Concat(s.handedOver, t.handedOver),
		ready: slices.Concat(s.ready, t.ready), hangup: slices.Concat(s.hangup, t.hangup), gone: slices.Concat(s.gone, t.gone)}
}
