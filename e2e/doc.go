// Package e2e holds multi-process tests: they build the real binaries once,
// restart them under load, inject faults, and compare handoff side by side
// with cloudflare/tableflip. go test -short skips them all (TestMain says
// so in one line). What they share with the bench (e2e/cmd/bench) lives in
// e2e/internal/harness (processes, builds, polling, fd and socket checks)
// and e2e/internal/proc (the reaper); the test-only wrappers that add a
// testing.T are in harness_test.go.
package e2e
