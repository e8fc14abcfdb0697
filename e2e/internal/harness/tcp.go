//go:build linux

package harness

import (
	"fmt"
	"net"
	"os"
	"strings"
)

// tcpSocket is one line of /proc/<pid>/net/tcp, addresses as the kernel
// writes them (hex ip:port).
type tcpSocket struct {
	local, remote string
	state         string // "01" is ESTABLISHED
	inode         string
}

// tcpSockets reads the IPv4 TCP sockets of the network namespace that
// /proc/<pid>/net/tcp describes (pid "self" for this process's).
func tcpSockets(pid string) []tcpSocket {
	b, err := os.ReadFile("/proc/" + pid + "/net/tcp")
	if err != nil {
		return nil
	}
	var socks []tcpSocket
	for _, line := range strings.Split(string(b), "\n")[1:] {
		if f := strings.Fields(line); len(f) > 9 {
			socks = append(socks, tcpSocket{local: f[1], remote: f[2], state: f[3], inode: f[9]})
		}
	}
	return socks
}

// hexPort is port as /proc/net/tcp writes it after the address.
func hexPort(port int) string { return fmt.Sprintf(":%04X", port) }

// TCP states as /proc/<pid>/net/tcp writes them.
const (
	TCPEstablished = "01"
	TCPListen      = "0A"
)

// Sockets counts the TCP sockets in state on addr's local port that pid
// holds open.
func Sockets(pid int, addr, state string) int {
	ap, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return 0
	}
	inodes := SocketInodes(pid)
	n := 0
	for _, s := range tcpSockets(fmt.Sprint(pid)) {
		if strings.HasSuffix(s.local, hexPort(ap.Port)) && s.state == state && inodes[s.inode] {
			n++
		}
	}
	return n
}

// Established counts the connections to addr's port that pid has accepted
// and still holds open.
func Established(pid int, addr string) int { return Sockets(pid, addr, TCPEstablished) }

// ServerInode finds the inode of the server's end of the TCP connection
// from 127.0.0.1's client port cport to srv on 127.0.0.1.
func ServerInode(srv string, cport int) (string, bool) {
	ap, err := net.ResolveTCPAddr("tcp", srv)
	if err != nil {
		return "", false
	}
	local, remote := "0100007F"+hexPort(ap.Port), "0100007F"+hexPort(cport)
	for _, s := range tcpSockets("self") {
		if s.local == local && s.remote == remote {
			return s.inode, true
		}
	}
	return "", false
}

// ListenerInode finds the inode of the socket listening on srv (an IPv4
// address) in this process's network namespace, whoever holds it: a
// socket that only systemd's fd store holds is found too.
func ListenerInode(srv string) (string, bool) {
	ap, err := net.ResolveTCPAddr("tcp", srv)
	if err != nil || ap.IP.To4() == nil {
		return "", false
	}
	ip := ap.IP.To4()
	// /proc/net/tcp writes the address as a little-endian word.
	local := fmt.Sprintf("%02X%02X%02X%02X", ip[3], ip[2], ip[1], ip[0]) + hexPort(ap.Port)
	for _, s := range tcpSockets("self") {
		if s.local == local && s.state == TCPListen {
			return s.inode, true
		}
	}
	return "", false
}
