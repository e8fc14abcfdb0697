// Package e2e holds multi-process tests: they build the real binaries once,
// restart them under load, inject faults, and compare handoff side by side
// with cloudflare/tableflip. The helpers here are shared by the tests and
// by the bench command.
package e2e
