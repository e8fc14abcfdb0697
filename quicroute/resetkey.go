package quicroute

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"

	"github.com/quic-go/quic-go"
)

// NewResetKeyFile makes a file holding a random stateless reset key and
// removes its name at once, so only the open fd reaches it. Pass it as the
// open function of upgrader.File, so that every generation inherits the
// same key: then the newest can reset, at once, the connections of a
// generation that died, instead of their clients waiting out an idle
// timeout. The caller owns the file.
func NewResetKeyFile() (*os.File, error) {
	f, err := os.CreateTemp("", "quicroute-reset-key-")
	if err != nil {
		return nil, fmt.Errorf("quicroute: reset key: %w", err)
	}
	os.Remove(f.Name())
	var key quic.StatelessResetKey
	if _, err := rand.Read(key[:]); err != nil {
		f.Close()
		return nil, fmt.Errorf("quicroute: reset key: %w", err)
	}
	if _, err := f.Write(key[:]); err != nil {
		f.Close()
		return nil, fmt.Errorf("quicroute: reset key: %w", err)
	}
	return f, nil
}

// ReadResetKey reads the key NewResetKeyFile wrote. It reads at offset 0
// and leaves f open.
func ReadResetKey(f *os.File) (*quic.StatelessResetKey, error) {
	var key quic.StatelessResetKey
	if _, err := f.ReadAt(key[:], 0); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("quicroute: read reset key: %w", err)
	}
	return &key, nil
}
