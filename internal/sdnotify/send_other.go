//go:build !linux

package sdnotify

import (
	"errors"
	"os"
)

func send(string, []byte, []*os.File) error { return errors.ErrUnsupported }

func sendFDs(string, []byte, []int) error { return errors.ErrUnsupported }
