//go:build linux

package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/handoff-go/handoff/internal/testutil"
)

// listenNotify opens a notification socket at addr, closed at cleanup.
func listenNotify(t *testing.T, addr string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// receive reads one notification and the files that came with it, which
// are closed at cleanup.
func receive(t *testing.T, c *net.UnixConn) (string, []*os.File) {
	t.Helper()
	buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(16*4))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		t.Fatal(err)
	}
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		t.Fatalf("read flags %#x: truncated", flags)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		t.Fatal(err)
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range fds {
			f := os.NewFile(uintptr(fd), "received")
			t.Cleanup(func() { f.Close() })
			files = append(files, f)
		}
	}
	return string(buf[:n]), files
}

func TestSendState(t *testing.T) {
	addr := filepath.Join(testutil.ShortDir(t), "notify")
	c := listenNotify(t, addr)
	t.Setenv(EnvSocket, addr)
	const state = "READY=1\nSTATUS=serving \"all\" = ok\nMAINPID=42"
	if err := Send(state); err != nil {
		t.Fatal(err)
	}
	got, files := receive(t, c)
	if got != state || len(files) != 0 {
		t.Errorf("received %q with %d files; want %q with none", got, len(files), state)
	}
}

func TestSendFiles(t *testing.T) {
	addr := filepath.Join(testutil.ShortDir(t), "notify")
	c := listenNotify(t, addr)
	// A file and a pipe: distinct inodes, so an order swap shows too.
	file, err := os.CreateTemp(t.TempDir(), "stored")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	sent := []*os.File{file, w}
	const state = "FDSTORE=1\nFDNAME=stored"
	if err := SendTo(addr, state, sent...); err != nil {
		t.Fatal(err)
	}
	got, files := receive(t, c)
	if got != state || len(files) != len(sent) {
		t.Fatalf("received %q with %d files; want %q with %d", got, len(files), state, len(sent))
	}
	for i, f := range files {
		if !sameFile(t, f, sent[i]) {
			t.Errorf("file %d received is not the one sent", i)
		}
	}
	// The caller's files stay open and usable.
	if _, err := w.Write([]byte("x")); err != nil {
		t.Errorf("write to the sent pipe after Send: %v; want it still open", err)
	}
}

// sameFile reports whether a and b share a device and inode.
func sameFile(t *testing.T, a, b *os.File) bool {
	t.Helper()
	var sa, sb unix.Stat_t
	if err := errors.Join(fstat(a, &sa), fstat(b, &sb)); err != nil {
		t.Fatal(err)
	}
	if sa.Dev != sb.Dev || sa.Ino != sb.Ino {
		t.Logf("dev %d ino %d; want dev %d ino %d", sa.Dev, sa.Ino, sb.Dev, sb.Ino)
		return false
	}
	return true
}

func fstat(f *os.File, st *unix.Stat_t) error {
	sc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := sc.Control(func(fd uintptr) { ferr = unix.Fstat(int(fd), st) }); err != nil {
		return err
	}
	return ferr
}

func TestSendWithoutSocket(t *testing.T) {
	t.Setenv(EnvSocket, "")
	if err := Send("READY=1"); err != nil {
		t.Errorf("Send without %s: %v; want nil, nothing sent", EnvSocket, err)
	}
}

func TestSendErrors(t *testing.T) {
	missing := filepath.Join(testutil.ShortDir(t), "nobody")
	if err := SendTo(missing, "READY=1"); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("SendTo(a path nobody listens on) = %v; want an error naming %s", err, missing)
	}
	addr := filepath.Join(testutil.ShortDir(t), "notify")
	listenNotify(t, addr)
	if err := SendTo(addr, ""); !errors.Is(err, errEmpty) {
		t.Errorf("SendTo(empty state) = %v; want %v", err, errEmpty)
	}
	closed, _, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	if err := SendTo(addr, "FDSTORE=1", closed); err == nil {
		t.Error("SendTo with a closed file: nil error; want one")
	}
}

func TestSendAbstract(t *testing.T) {
	addr := "@handoff-sdnotify-test-" + filepath.Base(testutil.ShortDir(t)) // unique
	c := listenNotify(t, addr)
	t.Setenv(EnvSocket, addr)
	if err := Send("STOPPING=1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := receive(t, c); got != "STOPPING=1" {
		t.Errorf("received %q; want %q", got, "STOPPING=1")
	}
}

// TestSendFDsSockets stores two listening sockets the way the upgrader
// does (raw descriptors, as listeners.Set.Lend gives them) and checks
// that the receiver holds the very same sockets: same inode, same bound
// address.
func TestSendFDsSockets(t *testing.T) {
	addr := filepath.Join(testutil.ShortDir(t), "notify")
	c := listenNotify(t, addr)
	t.Setenv(EnvSocket, addr)
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	dgram, err := net.ListenPacket("unixgram", filepath.Join(testutil.ShortDir(t), "dgram"))
	if err != nil {
		t.Fatal(err)
	}
	defer dgram.Close()
	sent := []*os.File{fileOf(t, tcp.(*net.TCPListener)), fileOf(t, dgram.(*net.UnixConn))}
	fds, err := rawFDs(sent)
	if err != nil {
		t.Fatal(err)
	}
	const state = "FDSTORE=1\nFDNAME=http"
	if err := SendFDs(state, fds); err != nil {
		t.Fatal(err)
	}
	got, files := receive(t, c)
	if got != state || len(files) != len(sent) {
		t.Fatalf("received %q with %d fds; want %q with %d", got, len(files), state, len(sent))
	}
	for i, f := range files {
		if !sameFile(t, f, sent[i]) {
			t.Errorf("fd %d received is not the socket sent", i)
		}
		if g, w := sockname(t, f), sockname(t, sent[i]); g != w {
			t.Errorf("fd %d received is bound to %s; want %s", i, g, w)
		}
	}
	// SendFDs closes nothing: the sender's sockets still serve.
	if cc, err := net.Dial("tcp", tcp.Addr().String()); err != nil {
		t.Errorf("dial the sent listener after SendFDs: %v; want it still listening", err)
	} else {
		cc.Close()
	}
}

func TestSendFDsWithoutSocket(t *testing.T) {
	t.Setenv(EnvSocket, "")
	if err := SendFDs("FDSTORE=1", []int{0}); err != nil {
		t.Errorf("SendFDs without %s: %v; want nil, nothing sent", EnvSocket, err)
	}
}

// fileOf returns a dup of a socket's descriptor, closed at cleanup.
func fileOf(t *testing.T, s interface{ File() (*os.File, error) }) *os.File {
	t.Helper()
	f, err := s.File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// sockname is the local address of the socket f holds.
func sockname(t *testing.T, f *os.File) string {
	t.Helper()
	sc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var sa unix.Sockaddr
	var serr error
	if err := sc.Control(func(fd uintptr) { sa, serr = unix.Getsockname(int(fd)) }); err != nil || serr != nil {
		t.Fatal(errors.Join(err, serr))
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return fmt.Sprintf("%v:%d", net.IP(a.Addr[:]), a.Port)
	case *unix.SockaddrUnix:
		return "unix:" + a.Name
	}
	return fmt.Sprintf("%T", sa)
}
