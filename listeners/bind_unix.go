//go:build unix

package listeners

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// staleDialTimeout bounds the test of whether a Unix socket file is live.
// A live server answers a local connect at once (or refuses with
// EAGAIN when its backlog is full), so a second is generous.
const staleDialTimeout = time.Second

// bind makes a fresh socket for req. A Unix socket file left behind by a
// process that died is replaced; one that a live process answers on is
// not, and neither is anything that is not a socket.
func bind[T any](req request, listen func(context.Context, string, string) (T, error)) (T, error) {
	ctx := context.Background()
	c, err := listen(ctx, req.network, req.addr)
	if err != nil && isUnixNetwork(req.network) && errors.Is(err, syscall.EADDRINUSE) {
		if err = clearStale(req.network, req.addr); err == nil {
			c, err = listen(ctx, req.network, req.addr)
		}
	}
	if err != nil {
		var zero T
		return zero, req.wrap(err)
	}
	return c, nil
}

func clearStale(network, path string) error {
	if isAbstract(path) {
		// Abstract names vanish with their socket: in use means live.
		return fmt.Errorf("abstract socket %s is bound: %w", path, ErrInUse)
	}
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil // gone meanwhile: bind again
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSocket == 0:
		return fmt.Errorf("%s exists and is not a socket (not removing it): %w", path, syscall.EADDRINUSE)
	}
	if err := checkLive(network, path); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale socket file: %w", err)
	}
	return nil
}

// checkLive dials path: only ECONNREFUSED (nobody bound to it; for
// datagram sockets too) or ENOENT proves it stale. Any other answer, a
// timeout or a socket of the other type included, means someone may be
// serving it.
func checkLive(network, path string) error {
	d := net.Dialer{Timeout: staleDialTimeout}
	c, err := d.Dial(network, path)
	switch {
	case err == nil:
		c.Close()
		return fmt.Errorf("%s answers: %w", path, ErrInUse)
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, fs.ErrNotExist):
		return nil
	}
	return fmt.Errorf("%s may be live (dial: %v): %w", path, err, ErrInUse)
}

// isAbstract reports a Linux abstract socket name, which Go spells with a
// leading '@'; elsewhere '@' is an ordinary path character.
func isAbstract(path string) bool {
	return (runtime.GOOS == "linux" || runtime.GOOS == "android") && strings.HasPrefix(path, "@")
}
