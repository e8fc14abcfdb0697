//go:build linux

package main

import (
	"fmt"
	"slices"
	"strings"
)

// section is one experiment of the bench: it measures into its own place
// in the report, and renders that place.
type section struct {
	name   string // for -only, progress lines and the report's header
	title  string // its Markdown heading, numbered by its place in sections
	run    func(b *bench, o options, rep *report)
	render func(w *strings.Builder, rep report)
}

// sections run and render in this order.
var sections = []section{
	{name: "lost", title: "Requests lost per upgrade", run: runLost, render: renderLost},
	{name: "throughput", title: "Throughput and p99 while upgrading", run: runThroughput, render: renderThroughput},
	{name: "upgrade-time", title: "Upgrade time by listener count", run: runTimes, render: renderTimes},
	{name: "old-gone", title: "Old process gone after the new one is ready, under keep-alive load", run: runGone, render: renderGone},
	{name: "idle", title: "Idle keep-alive connections through upgrades", run: runIdle, render: renderIdle},
	{name: "steady", title: "Steady-state throughput, no upgrades", run: runSteady, render: renderSteady},
	{name: "http3", title: "HTTP/3 through upgrades (handoff only)", run: runHTTP3, render: renderHTTP3},
	{name: "badbuild", title: "Deploying a build that dies after it is ready", run: runBadBuild, render: renderBadBuild},
}

// sectionNames lists every section's name, in order.
func sectionNames() []string {
	names := make([]string, len(sections))
	for i, s := range sections {
		names[i] = s.name
	}
	return names
}

// chooseSections is what -only selects: a comma-separated list of
// section names, or every section when empty.
func chooseSections(only string) ([]string, error) {
	if only == "" {
		return sectionNames(), nil
	}
	var chosen []string
	for name := range strings.SplitSeq(only, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(sectionNames(), name) {
			return nil, fmt.Errorf("-only: no section %q; the sections are %s", name, strings.Join(sectionNames(), ", "))
		}
		if !slices.Contains(chosen, name) {
			chosen = append(chosen, name)
		}
	}
	return chosen, nil
}

// pair are the servers every section compares, in their order in the
// report.
var pair = [2]kind{handoff, tableflip}

// order is the order round r runs n servers in, as their positions: the
// first round's order rotated by r. For the two servers of pair it
// alternates, AB in even rounds and BA in odd ones, so that whatever
// favours going first or second (a machine warming up or cooling down,
// caches, another tenant's load coming or going) weighs on each server
// alike.
func order(r, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = (r + i) % n
	}
	return out
}

// inRounds runs f for both servers of pair in each of rounds, in
// order(r, 2), and returns f's results by server, in round order.
func inRounds[T any](rounds int, f func(round int, k kind) T) [2][]T {
	var out [2][]T
	for r := range rounds {
		for _, i := range order(r, len(pair)) {
			out[i] = append(out[i], f(r, pair[i]))
		}
	}
	return out
}

// halves splits n upgrades into the two rounds a server's series is run
// in: the first round gets the odd one. With fewer than two there is one
// round.
func halves(n int) []int {
	if n < 2 {
		return []int{n}
	}
	return []int{n - n/2, n / 2}
}
