//go:build unix

package wire

import (
	"net"
	"testing"
	"time"

	"github.com/handoff-go/handoff/internal/testutil"
)

// FuzzConnRecv feeds arbitrary bytes, with up to 7 fds attached from byte
// split on, to a Conn's RecvFiles and then Recv. Whatever arrives, nothing
// may panic, hang or leak an fd.
func FuzzConnRecv(f *testing.F) {
	manifest := frame(TypeManifest, Manifest{Count: 2})
	for i, seed := range frameSeeds() {
		f.Add(seed, uint8(i%3), uint16(i))
	}
	f.Add(append(manifest, batchFrame(0, 2)...), uint8(2), uint16(len(manifest)))
	f.Add(append(manifest, batchFrame(0, 2)...), uint8(3), uint16(len(manifest)))
	f.Add(append(manifest, batchFrame(0, 2)...), uint8(2), uint16(0))
	f.Add(append(hello, hello...), uint8(1), uint16(len(hello)-1))
	f.Fuzz(func(t *testing.T, data []byte, nfds uint8, split uint16) {
		testutil.CheckLeaks(t)
		peer, rc := testutil.SocketPair(t)
		receiver := NewConn(rc)
		receiver.SetTimeout(testTimeout)
		at := min(int(split), len(data))
		written := writeAsync(peer, data[:at], data[at:], makeFDs(t, int(nfds%8)))
		if _, fds, err := receiver.RecvFiles(); err == nil {
			closeFDs(fds)
		}
		for range 64 {
			if _, err := receiver.Recv(); err != nil {
				break
			}
		}
		receiver.Close() // unblocks the writer if the receiver stopped early
		<-written
	})
}

// writeAsync writes a, then b with fds attached, then shuts the write side,
// on another goroutine, since the input may not fit in the socket buffer.
func writeAsync(peer *net.UnixConn, a, b []byte, fds []int) <-chan error {
	done := make(chan error, 1)
	go func() {
		peer.SetWriteDeadline(time.Now().Add(testTimeout))
		_, err := peer.Write(a)
		if err == nil && len(b) > 0 {
			err = writeMsg(peer, b, fds)
		}
		if err == nil {
			err = peer.CloseWrite()
		}
		done <- err
	}()
	return done
}
