//go:build unix

package listeners

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestTargetMatches(t *testing.T) {
	v4 := func(a, b, c, d byte, port int) unix.Sockaddr {
		return &unix.SockaddrInet4{Addr: [4]byte{a, b, c, d}, Port: port}
	}
	any6 := func(port int) unix.Sockaddr { return &unix.SockaddrInet6{Port: port} }
	tests := []struct {
		name, network, addr string
		bound               unix.Sockaddr
		anyPort, want       bool
	}{
		{"same ip and port", "tcp", "127.0.0.1:80", v4(127, 0, 0, 1, 80), false, true},
		{"other port", "tcp", "127.0.0.1:80", v4(127, 0, 0, 1, 81), false, false},
		{"other ip", "tcp", "127.0.0.1:80", v4(127, 0, 0, 2, 80), false, false},
		{"port 0 by name", "tcp", "127.0.0.1:0", v4(127, 0, 0, 1, 4321), true, true},
		{"port 0 by address", "tcp", "127.0.0.1:0", v4(127, 0, 0, 1, 4321), false, false},
		{"wildcard on dual stack", "tcp", ":80", any6(80), false, true},
		{"IPv4 wildcard on dual stack", "tcp", "0.0.0.0:80", any6(80), false, true},
		{"wildcard on a specific ip", "tcp", ":80", v4(127, 0, 0, 1, 80), false, false},
		{"specific ip on a wildcard", "tcp", "127.0.0.1:80", v4(0, 0, 0, 0, 80), false, false},
		{"udp", "udp", "127.0.0.1:53", v4(127, 0, 0, 1, 53), false, true},
		{"unix path", "unix", "/run/a.sock", &unix.SockaddrUnix{Name: "/run/a.sock"}, false, true},
		{"other unix path", "unix", "/run/a.sock", &unix.SockaddrUnix{Name: "/run/b.sock"}, false, false},
		{"inet on unix", "tcp", ":80", &unix.SockaddrUnix{Name: ":80"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := resolveTarget(request{op: "listen", name: "x", network: tt.network, addr: tt.addr})
			if err != nil {
				t.Fatal(err)
			}
			if got := want.matches(tt.bound, tt.anyPort); got != tt.want {
				t.Errorf("%s %s vs %s (anyPort %v): got %v; want %v",
					tt.network, tt.addr, sockaddrString(tt.bound), tt.anyPort, got, tt.want)
			}
		})
	}
}
