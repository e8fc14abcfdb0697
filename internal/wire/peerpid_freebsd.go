package wire

// peerPID reports 0: FreeBSD keeps the pid in a union at the end of
// xucred, which x/sys/unix does not expose.
func peerPID(int) (int, error) { return 0, nil }
