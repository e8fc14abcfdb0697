package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/handoff-go/handoff/internal/wire"
)

// notifyMax bounds one notification, as systemd does (NOTIFY_BUFFER_MAX):
// a longer datagram is dropped whole.
const notifyMax = 4096

// notifySocket is the supervisor's own NOTIFY_SOCKET for its children: a
// datagram socket in a private directory, removed at close. The kernel
// stamps every datagram with the sender's pid (SO_PASSCRED), so a message
// counts only for the child that sent it, and nothing from any other
// process (a grandchild included) counts at all.
type notifySocket struct {
	dir  string
	path string
	conn *net.UnixConn
}

// notice is one parsed notification.
type notice struct {
	pid      int
	ready    bool
	stopping bool
	status   string
	hasState bool // a STATUS= line was present
}

func openNotifySocket() (*notifySocket, error) {
	dir, err := os.MkdirTemp("", "handoff-run-")
	if err != nil {
		return nil, fmt.Errorf("notify socket: %w", err)
	}
	ns := &notifySocket{dir: dir, path: filepath.Join(dir, "notify")}
	ns.conn, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: ns.path, Net: "unixgram"})
	if err == nil {
		err = wire.PassCred(ns.conn)
	}
	if err != nil {
		ns.close()
		return nil, fmt.Errorf("notify socket %s: %w", ns.path, err)
	}
	return ns, nil
}

func (ns *notifySocket) close() {
	if ns.conn != nil {
		ns.conn.Close()
	}
	os.RemoveAll(ns.dir)
}

// serve reads notifications until the socket closes, handing each
// well-formed one to handle. Malformed, oversized or anonymous datagrams
// are dropped; descriptors anyone sent along are closed.
func (ns *notifySocket) serve(handle func(notice)) {
	buf := make([]byte, notifyMax)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(4*16))
	rc, err := ns.conn.SyscallConn()
	if err != nil {
		return
	}
	for {
		var n, oobn, flags int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, oobn, flags, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
			return !errors.Is(rerr, unix.EAGAIN)
		})
		if err != nil {
			return // closed
		}
		if rerr != nil {
			continue
		}
		pid := senderPID(oob[:oobn])
		if pid <= 0 || flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
			continue
		}
		handle(parseNotice(pid, buf[:n]))
	}
}

// senderPID returns the pid in the SCM_CREDENTIALS of oob (0 if none),
// closing any descriptors that came with it.
func senderPID(oob []byte) int {
	fds, from, err := wire.ParseControl(oob)
	for _, fd := range fds {
		unix.Close(fd)
	}
	if err != nil {
		return 0
	}
	return from.PID
}

// parseNotice reads the assignments the supervisor acts on and ignores the
// rest (sd_notify(3) allows any).
func parseNotice(pid int, b []byte) notice {
	nt := notice{pid: pid}
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		switch {
		case string(line) == "READY=1":
			nt.ready = true
		case string(line) == "STOPPING=1":
			nt.stopping = true
		case bytes.HasPrefix(line, []byte("STATUS=")):
			nt.status, nt.hasState = printable(string(line[len("STATUS="):])), true
		}
	}
	return nt
}

// printable keeps a child's status text safe to log and pass on.
func printable(s string) string {
	const max = 256
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == 0xfffd {
			return -1
		}
		return r
	}, s)
	if len(s) > max {
		s = s[:max]
	}
	return strings.ToValidUTF8(s, "")
}
