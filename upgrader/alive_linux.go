package upgrader

import (
	"bytes"
	"os"
	"strconv"
)

// processAlive reports whether pid runs. A zombie (exited, not yet reaped
// by a parent that may itself be gone) counts as gone.
func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may
	// itself contain spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	return b[i+2] != 'Z' && b[i+2] != 'X'
}
