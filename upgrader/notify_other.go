//go:build !linux

package upgrader

// systemd runs only on Linux.
func notify(string)    {}
func notifyReloading() {}
