package testutil

import (
	"os"
	"testing"
)

// ShortDir returns a fresh directory, removed at cleanup, whose paths fit
// in a Unix socket address (t.TempDir's grow with the test's name past
// sockaddr_un's 104 or 108 bytes).
func ShortDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ho")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
