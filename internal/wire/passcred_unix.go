//go:build unix

package wire

// ParseControl returns what the control data of one read carries: its
// descriptors (SCM_RIGHTS), which the caller then owns, and the writer's
// credentials where PassCred asked for them (PID 0 otherwise). On a
// malformed message it returns the descriptors found before it, for the
// caller to close, and an error wrapping ErrMalformed.
func ParseControl(oob []byte) (fds []int, from Cred, err error) { return parseControl(oob) }
