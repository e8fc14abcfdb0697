package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/handoff-go/handoff/internal/wire"
)

// dial connects to the control socket at path and sends a request for op,
// turning the ways that can fail into messages an operator can act on.
func dial(path string, req wire.Request) (*wire.Conn, error) {
	raw, err := net.DialTimeout("unix", path, 5*time.Second)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, &dialError{fmt.Sprintf("no control socket at %s (is the server running with that control path?)", path), err}
	case errors.Is(err, syscall.ECONNREFUSED):
		return nil, &dialError{fmt.Sprintf("nobody answers on %s: a stale socket left by a server that is gone", path), err}
	case errors.Is(err, os.ErrPermission):
		return nil, fmt.Errorf("not allowed to connect to %s: %w", path, err)
	case err != nil:
		return nil, fmt.Errorf("connect to %s: %w", path, err)
	}
	c := wire.NewConn(raw.(*net.UnixConn))
	if err := c.Send(wire.TypeRequest, req); err != nil {
		err = refusal(c.Refusal(err))
		c.Close()
		return nil, fmt.Errorf("send %s request to %s: %w", req.Op, path, err)
	}
	return c, nil
}

// dialError is an operator's message for a failed connect that keeps the
// cause (os.ErrNotExist, syscall.ECONNREFUSED) for callers that branch on it.
type dialError struct {
	msg   string
	cause error
}

func (e *dialError) Error() string { return e.msg }
func (e *dialError) Unwrap() error { return e.cause }

// refusal explains an Abort the server sent instead of an answer.
func refusal(err error) error {
	var ae *wire.AbortError
	if errors.As(err, &ae) {
		return fmt.Errorf("server refused: %s", ae.Reason)
	}
	return err
}
