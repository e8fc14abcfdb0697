package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/handoff-go/handoff/control"
)

// runDetail is what `handoff run` adds to its status (control.Status
// Detail): the program, its children and which fd carries which socket.
type runDetail struct {
	Program  []string    `json:"program"`
	Children []childInfo `json:"children"`
	FDs      []string    `json:"fds"`      // socket names, in fd order from 3
	Tracking string      `json:"tracking"` // how generations are followed: a cgroup each, or /proc
}

// childInfo describes one child of the supervisor.
type childInfo struct {
	PID     int       `json:"pid"`
	State   string    `json:"state"` // starting, serving, draining, exited (what it started is not)
	Started time.Time `json:"started"`
	Status  string    `json:"status,omitempty"` // its last STATUS=
	// Processes is what is left of its generation: the child while it
	// runs, and every process it started that still runs.
	Processes []int  `json:"processes"`
	Cgroup    string `json:"cgroup,omitempty"` // its generation's cgroup
}

// supervisorDetail decodes the detail of a `handoff run` supervisor; ok is
// false for any other server.
func supervisorDetail(st control.Status) (runDetail, bool) {
	var d runDetail
	if len(st.Detail) == 0 || json.Unmarshal(st.Detail, &d) != nil || d.Program == nil {
		return runDetail{}, false
	}
	return d, true
}

func printRunDetail(w io.Writer, st control.Status) {
	d, ok := supervisorDetail(st)
	if !ok {
		return
	}
	fmt.Fprintf(w, "supervising: %q\n", d.Program)
	for i, name := range d.FDs {
		fmt.Fprintf(w, "  fd %d: %s\n", 3+i, name)
	}
	if len(d.Children) == 0 {
		fmt.Fprintln(w, "children: none")
	}
	if d.Tracking != "" {
		fmt.Fprintf(w, "generations tracked by: %s\n", d.Tracking)
	}
	for _, c := range d.Children {
		line := fmt.Sprintf("child: pid %d %s since %s", c.PID, c.State, c.Started.Format("15:04:05.000"))
		if c.State == "exited" {
			line = fmt.Sprintf("child: pid %d exited (started %s)", c.PID, c.Started.Format("15:04:05.000"))
		}
		if c.Status != "" {
			line += fmt.Sprintf(" (status %q)", c.Status)
		}
		fmt.Fprintln(w, line)
		in := ""
		if c.Cgroup != "" {
			in = " (cgroup " + filepath.Base(c.Cgroup) + ")"
		}
		fmt.Fprintf(w, "  processes left: %s%s\n", pidsText(c.Processes), in)
	}
}

// waitChildGone polls the supervisor's status until pid is no longer its
// child (drained and exited), up to wait.
func waitChildGone(control string, pid int, wait time.Duration, stdout io.Writer) {
	deadline := time.Now().Add(wait)
	for {
		st, err := fetchStatus(control)
		if err != nil {
			fmt.Fprintf(stdout, "lost track of old pid %d while it drains: %v\n", pid, err)
			return
		}
		if !hasChild(st, pid) {
			fmt.Fprintf(stdout, "old pid %d exited\n", pid)
			return
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(stdout, "old pid %d still draining after %v\n", pid, wait)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hasChild(st control.Status, pid int) bool {
	d, _ := supervisorDetail(st)
	for _, c := range d.Children {
		if c.PID == pid {
			return true
		}
	}
	return false
}

func pidsText(list []int) string {
	if len(list) == 0 {
		return "none"
	}
	s := make([]string, len(list))
	for i, p := range list {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, " ")
}
