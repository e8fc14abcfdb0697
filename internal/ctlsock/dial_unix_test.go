//go:build unix

package ctlsock

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDialClassifies(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		failure    Failure
		says       string
	}{
		{name: "nothing there", path: filepath.Join(dir, "none"), failure: NoSocket, says: "no control socket at"},
		{name: "regular file", path: file, failure: NotSocket, says: file + " is a regular file, not a control socket"},
		{name: "directory", path: dir, failure: NotSocket, says: dir + " is a directory, not a control socket"},
		{name: "too long", path: "/" + strings.Repeat("x", MaxPathLen), failure: TooLong, says: "a Unix socket path may have at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Dial(tc.path, time.Second)
			de, ok := errors.AsType[*DialError](err)
			if !ok || de.Failure != tc.failure || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("got %v; want failure %d saying %q", err, tc.failure, tc.says)
			}
		})
	}
}

func TestPeerGone(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "s"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tc := range []struct {
		name   string
		client func(c *net.UnixConn)
		gone   bool
	}{
		{name: "there", client: func(*net.UnixConn) {}},
		{name: "there, bytes pending", client: func(c *net.UnixConn) { c.Write([]byte("x")) }},
		{name: "closed", client: func(c *net.UnixConn) { c.Close() }, gone: true},
		{name: "shut down its sending side", client: func(c *net.UnixConn) { c.CloseWrite() }, gone: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.DialUnix("unix", nil, ln.Addr().(*net.UnixAddr))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			srv, err := ln.AcceptUnix()
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			tc.client(c)
			if got := PeerGone(srv); got != tc.gone {
				t.Errorf("PeerGone: got %v; want %v", got, tc.gone)
			}
			if got := PeerGone(srv); got != tc.gone { // it peeks: asking twice says the same
				t.Errorf("PeerGone again: got %v; want %v", got, tc.gone)
			}
		})
	}
}
