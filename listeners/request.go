package listeners

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"slices"
)

const networkFile = "file"

func isStreamNetwork(network string) bool {
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
		return true
	}
	return false
}

func isPacketNetwork(network string) bool {
	switch network {
	case "udp", "udp4", "udp6", "unixgram":
		return true
	}
	return false
}

func isUnixNetwork(network string) bool { return network == "unix" || network == "unixgram" }

// request is one call of Listen, ListenPacket or File; it names the
// operation in every error so that a log line says which member failed.
type request struct {
	op, name, network, addr string
}

func (r request) String() string {
	if r.network == networkFile {
		return fmt.Sprintf("%s (name %q)", r.op, r.name)
	}
	return fmt.Sprintf("%s %s %s (name %q)", r.op, r.network, r.addr, r.name)
}

func (r request) errorf(format string, args ...any) error {
	return fmt.Errorf("listeners: %s: %w", r, fmt.Errorf(format, args...))
}

// wrap adds the operation to err, dropping the *net.OpError layer whose
// text would repeat it.
func (r request) wrap(err error) error {
	if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Err != nil {
		err = oe.Err
	}
	return fmt.Errorf("listeners: %s: %w", r, err)
}

func (r request) check(kindOK func(string) bool, hint string) error {
	switch {
	case r.name == "":
		return r.errorf("empty name")
	case !isStreamNetwork(r.network) && !isPacketNetwork(r.network):
		return r.errorf("unknown network %q", r.network)
	case !kindOK(r.network):
		return r.errorf("wrong kind of network (%s)", hint)
	}
	return nil
}

// conflict is the error for a name this process already uses differently.
func (r request) conflict(m Entry) error {
	if m.Network == networkFile {
		return r.errorf("name already used for file %s", m.Addr)
	}
	return r.errorf("name already used for %s %s", m.Network, m.Addr)
}

func sortInfos(infos []Info) {
	slices.SortStableFunc(infos, func(a, b Info) int { return cmp.Compare(a.Name, b.Name) })
}

func (r request) entry() Entry { return Entry{Name: r.name, Network: r.network, Addr: r.addr} }
