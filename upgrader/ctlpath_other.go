//go:build !unix

package upgrader

// checkControlPath has nothing to check where upgrades are not supported:
// the control socket is refused when it is bound.
func checkControlPath(string) error { return nil }

func restrictSocketFile(string) error { return nil }
