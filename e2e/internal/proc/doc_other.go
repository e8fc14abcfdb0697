//go:build !linux

// Package proc watches processes through /proc; it exists on Linux only.
package proc
