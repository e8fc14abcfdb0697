//go:build unix

// Command oddcat is the classic demonstration of descriptor passing: a
// child process opens FILE and hands the open descriptor to its parent over
// a socketpair; the parent, which never opened FILE itself, says which
// descriptor it got and copies the file to stdout.
//
//	go run ./examples/oddcat FILE
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"syscall"

	"github.com/handoff-go/handoff/fdpass"
)

// childEnv marks the re-executed child; its end of the socketpair is fd 3.
const childEnv = "ODDCAT_CHILD"

func main() {
	if len(os.Args) != 2 || os.Args[1] == "-h" || os.Args[1] == "--help" {
		fmt.Fprintln(os.Stderr, "usage: oddcat FILE")
		os.Exit(2)
	}
	var err error
	if os.Getenv(childEnv) == "1" {
		err = child(os.Args[1])
	} else {
		err = parent(os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "oddcat:", err)
		os.Exit(1)
	}
}

// child opens path and sends the descriptor up to the parent.
func child(path string) error {
	sock := os.NewFile(3, "oddcat-socket")
	conn, err := unixConn(sock)
	if err != nil {
		return fmt.Errorf("child: %w", err)
	}
	defer conn.Close()
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("child: %w", err)
	}
	defer f.Close()
	return fdpass.Send(conn, []*os.File{f})
}

// parent starts the child, receives the descriptor and copies its file.
func parent(path string) error {
	syscall.ForkLock.RLock() // portable close-on-exec: no fork between the two calls
	pair, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(pair[0])
		syscall.CloseOnExec(pair[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return fmt.Errorf("socketpair: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(pair[0]), "oddcat-parent"), os.NewFile(uintptr(pair[1]), "oddcat-child")
	defer ours.Close()
	cmd, err := startChild(path, theirs)
	theirs.Close() // the child has its copy; ours must see EOF if it dies
	if err != nil {
		return err
	}
	conn, err := unixConn(ours)
	if err != nil {
		return err
	}
	defer conn.Close()
	files, recvErr := fdpass.Receive(conn)
	if err := cmd.Wait(); err != nil {
		closeAll(files)
		return fmt.Errorf("child pid %d failed (%v); its own message is above", cmd.Process.Pid, err)
	}
	if recvErr != nil {
		return recvErr
	}
	for _, f := range files {
		fmt.Fprintf(os.Stderr, "oddcat: got descriptor %d for %s from child pid %d\n", f.Fd(), f.Name(), cmd.Process.Pid)
		_, err = io.Copy(os.Stdout, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("copy %s: %w", f.Name(), err)
		}
	}
	return nil
}

func startChild(path string, sock *os.File) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, path)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = os.Stderr
	cmd.ExtraFiles = []*os.File{sock} // fd 3 in the child
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start child: %w", err)
	}
	return cmd, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// unixConn wraps a dup of f as a Unix connection; f stays the caller's.
func unixConn(f *os.File) (*net.UnixConn, error) {
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("%s is not a Unix socket", f.Name())
	}
	return uc, nil
}
