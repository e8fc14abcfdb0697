//go:build unix

package listeners

import (
	"fmt"
	"net"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/handoff-go/handoff/internal/testutil"
)

// fdMaker makes one descriptor for an Inherit test; the test owns it.
type fdMaker func(t *testing.T) int

func devNull(t *testing.T) int {
	fd, err := unix.Open("/dev/null", unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// rawSocket is an unbound, unconnected socket: not listening.
func rawSocket(domain, sotype int) fdMaker {
	return func(t *testing.T) int {
		fd, err := unix.Socket(domain, sotype, 0)
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}
}

// bound returns a dup of a fresh Go socket for network and addr.
func bound(network, addr string) fdMaker {
	return func(t *testing.T) int {
		var c interface{ Close() error }
		var err error
		if isPacketNetwork(network) {
			c, err = net.ListenPacket(network, addr)
		} else {
			c, err = net.Listen(network, addr)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fd, err := dupConn(c)
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}
}

func TestInheritRejectsLies(t *testing.T) {
	tcp := bound("tcp", "127.0.0.1:0")
	tests := []struct {
		name    string
		entries []Entry
		fds     []fdMaker
		want    []string
	}{
		{
			name:    "file claimed as tcp",
			entries: []Entry{{"http", "tcp", ":80"}}, fds: []fdMaker{devNull},
			want: []string{`inherit "http"`, "claimed tcp", "not a socket"},
		},
		{
			name:    "udp socket claimed as tcp",
			entries: []Entry{{"http", "tcp", ":80"}}, fds: []fdMaker{bound("udp", "127.0.0.1:0")},
			want: []string{`inherit "http"`, "claimed tcp", "IPv4 datagram socket bound to 127.0.0.1:"},
		},
		{
			name:    "non-listening tcp socket claimed as tcp",
			entries: []Entry{{"http", "tcp", ":80"}}, fds: []fdMaker{rawSocket(unix.AF_INET, unix.SOCK_STREAM)},
			want: []string{`inherit "http"`, "claimed tcp", "non-listening IPv4 stream socket"},
		},
		{
			name:    "IPv4 listener claimed as tcp6",
			entries: []Entry{{"http", "tcp6", ":80"}}, fds: []fdMaker{tcp},
			want: []string{`inherit "http"`, "claimed tcp6", "an IPv4 stream socket"},
		},
		{
			name:    "tcp listener claimed as unix",
			entries: []Entry{{"api", "unix", "/run/api.sock"}}, fds: []fdMaker{tcp},
			want: []string{`inherit "api"`, "claimed unix", "IPv4 stream socket"},
		},
		{
			name:    "unix datagram socket claimed as unix",
			entries: []Entry{{"api", "unix", "/run/api.sock"}}, fds: []fdMaker{rawSocket(unix.AF_UNIX, unix.SOCK_DGRAM)},
			want: []string{`inherit "api"`, "claimed unix", "unix datagram socket"},
		},
		{
			name:    "unknown network",
			entries: []Entry{{"x", "sctp", ":1"}}, fds: []fdMaker{tcp},
			want: []string{`inherit "x"`, `unknown network "sctp"`},
		},
		{
			name:    "empty name",
			entries: []Entry{{"", "tcp", ":80"}}, fds: []fdMaker{tcp},
			want: []string{"entry 0", "has no name"},
		},
		{
			name:    "name given twice",
			entries: []Entry{{"http", "tcp", "127.0.0.1:0"}, {"http", "tcp", "127.0.0.1:0"}}, fds: []fdMaker{tcp, tcp},
			want: []string{`name "http" given twice`},
		},
		{
			name:    "more entries than fds",
			entries: []Entry{{"a", "tcp", ":80"}, {"b", "tcp", ":81"}}, fds: []fdMaker{tcp},
			want: []string{"2 entries for 1 fds"},
		},
		{
			name:    "a lie after a good entry",
			entries: []Entry{{"good", "tcp", "127.0.0.1:0"}, {"bad", "udp", ":53"}}, fds: []fdMaker{tcp, devNull},
			want: []string{`inherit "bad"`, "claimed udp"},
		},
		{
			name:    "listener claimed at another port",
			entries: []Entry{{"http", "tcp", "127.0.0.1:80"}}, fds: []fdMaker{tcp},
			want: []string{`inherit "http"`, "claimed to be bound to 127.0.0.1:80", "an IPv4 stream socket bound to 127.0.0.1:"},
		},
		{
			name:    "listener claimed at another address",
			entries: []Entry{{"http", "tcp", "127.0.0.2:0"}}, fds: []fdMaker{tcp},
			want: []string{`inherit "http"`, "claimed to be bound to 127.0.0.2:0"},
		},
		{
			name:    "listener with no address",
			entries: []Entry{{"http", "tcp", ""}}, fds: []fdMaker{tcp},
			want: []string{`inherit "http"`, "entry gives no address"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testutil.CheckLeaks(t)
			fds := make([]int, len(tt.fds))
			for i, mk := range tt.fds {
				fds[i] = mk(t)
			}
			s := newSet(t)
			wantErrContains(t, s.Inherit(tt.entries, fds), tt.want...)
			for _, fd := range fds {
				if isOpen(fd) {
					t.Errorf("fd %d: open after a failed Inherit; want closed", fd)
					unix.Close(fd)
				}
			}
			if got := s.List(); len(got) != 0 {
				t.Errorf("members after a failed Inherit: got %+v; want none", got)
			}
		})
	}
}

func TestInheritSameFDTwice(t *testing.T) {
	testutil.CheckLeaks(t)
	fd := bound("tcp", "127.0.0.1:0")(t)
	s := newSet(t)
	err := s.Inherit([]Entry{{"a", "tcp", "127.0.0.1:0"}, {"b", "tcp", "127.0.0.1:0"}}, []int{fd, fd})
	wantErrContains(t, err, fmt.Sprintf("fd %d given twice", fd))
	if isOpen(fd) {
		t.Errorf("fd %d: open after a failed Inherit; want closed", fd)
		unix.Close(fd)
	}
}

func TestInheritMakesFDsCloseOnExec(t *testing.T) {
	testutil.CheckLeaks(t)
	fd := bound("tcp", "127.0.0.1:0")(t)
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
		t.Fatal(err)
	}
	s := newSet(t)
	if err := s.Inherit([]Entry{{"a", "tcp", "127.0.0.1:0"}}, []int{fd}); err != nil {
		t.Fatal(err)
	}
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("fd flags after Inherit: got %#x, %v; want FD_CLOEXEC set", flags, err)
	}
}
