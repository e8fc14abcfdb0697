//go:build unix

package wire

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/handoff-go/handoff/internal/testutil"
)

// peerStep is what a hand-rolled peer does before the receiver reads.
type peerStep func(t *testing.T, peer *net.UnixConn)

// sends writes frames, with fds attached to the first one.
func sends(nfds int, frames ...[]byte) peerStep {
	return func(t *testing.T, peer *net.UnixConn) {
		writeFrames(t, peer, makeFDs(t, nfds), frames...)
	}
}

func hangsUp(t *testing.T, peer *net.UnixConn) {
	if err := peer.Close(); err != nil {
		t.Fatal(err)
	}
}

func stopsWriting(t *testing.T, peer *net.UnixConn) {
	if err := peer.CloseWrite(); err != nil {
		t.Fatal(err)
	}
}

func frame(t Type, v any) []byte {
	b, err := encodeFrame(t, v)
	if err != nil {
		panic(err)
	}
	return b
}

var (
	manifestOf2 = frame(TypeManifest, Manifest{Count: 2})
	hello       = frame(TypeHello, Hello{PID: 1})
)

func recvAny(c *Conn) error {
	_, err := c.Recv()
	return err
}

func recvFiles(c *Conn) error {
	_, fds, err := c.RecvFiles()
	closeFDs(fds)
	return err
}

func TestRecvRefuses(t *testing.T) {
	var verr *VersionError
	var abort *AbortError
	tests := []struct {
		name    string
		peer    []peerStep
		recv    func(*Conn) error
		want    any
		wantMsg string
		// wantAbort says the peer must be told why, with an Abort.
		wantAbort bool
	}{
		{"half a header", []peerStep{sends(0, []byte("HO\x01\x01")), hangsUp}, recvAny,
			io.ErrUnexpectedEOF, "wire: recv: connection closed by peer: got 4 of 8 header bytes", false},
		{"half a body", []peerStep{sends(0, hello[:10]), stopsWriting}, recvAny,
			ErrClosed, fmt.Sprintf("got 10 of %d bytes of a hello frame", len(hello)), false},
		{"clean hang-up", []peerStep{hangsUp}, recvAny, io.EOF, "connection closed by peer", false},
		{"garbage", []peerStep{sends(0, []byte("GET / HTTP/1.1\r\n\r\n"))}, recvAny,
			ErrMalformed, `bad magic "GE"`, false},
		{"version 2", []peerStep{sends(0, header("HO", 2, TypeHello, 2), []byte("{}"))}, recvAny,
			&verr, "peer speaks protocol version 2; this side speaks 1", true},
		{"oversized", []peerStep{sends(0, header("HO", 1, TypeHello, 2_000_000))}, recvAny,
			ErrFrameTooLarge, "hello frame body of 2000000 bytes exceeds limit of 1048576", false},
		{"unknown type", []peerStep{sends(0, header("HO", 1, 42, 2), []byte("{}"))}, recvAny,
			ErrMalformed, "unknown frame type type(42)", false},
		{"fds with hello", []peerStep{sends(2, hello)}, recvAny,
			ErrUnexpected, "wire: recv: unexpected message: 2 fds arrived while no batch was expected", false},
		{"batch outside RecvFiles", []peerStep{sends(2, batchFrame(0, 2))}, recvAny,
			ErrUnexpected, "2 fds arrived while no batch was expected", false},
		{"abort", []peerStep{sends(0, frame(TypeAbort, Abort{Reason: "disk on fire"}))}, recvFiles,
			&abort, "peer aborted: disk on fire", false},
		{"bad JSON", []peerStep{sends(0, rawFrame(TypeManifest, `{"count":`))}, recvFiles,
			ErrMalformed, "manifest body", true},
		{"wrong JSON type", []peerStep{sends(0, rawFrame(TypeManifest, `{"count":"2"}`))}, recvFiles,
			ErrMalformed, "manifest body", true},
		{"negative count", []peerStep{sends(0, frame(TypeManifest, Manifest{Count: -1}))}, recvFiles,
			ErrMalformed, "manifest announces -1 fds", true},
		{"hello for manifest", []peerStep{sends(0, hello)}, recvFiles,
			ErrUnexpected, "got hello, want manifest", true},
		{"fds with manifest", []peerStep{sends(2, manifestOf2)}, recvFiles,
			ErrUnexpected, "wire: recv manifest: unexpected message: 2 fds arrived while no batch was expected", true},
		{"fds with a batch's body", []peerStep{sends(0, manifestOf2),
			sends(0, batchFrame(0, 2)[:headerLen]), sends(2, batchFrame(0, 2)[headerLen:])}, recvFiles,
			ErrFDMismatch, "2 fds arrived inside a frame, not at its start", true},
		{"hang-up mid-batch", []peerStep{
			sends(0, frame(TypeManifest, Manifest{Count: 500})), sends(252, batchFrame(0, 252)), hangsUp},
			recvFiles, ErrClosed, "recv batch 0 (after 0 of 500 fds): send ack: connection closed by peer", false},
		{"stops writing mid-batch", []peerStep{
			sends(0, frame(TypeManifest, Manifest{Count: 500})), sends(252, batchFrame(0, 252)), stopsWriting},
			recvFiles, ErrClosed, "wire: recv batch 1 (after 252 of 500 fds): connection closed by peer", false},
		{"more fds than entries", []peerStep{sends(0, manifestOf2), sends(3, batchFrame(0, 2))}, recvFiles,
			ErrFDMismatch, "batch announces 2 fds but carried 3", true},
		{"fewer fds than entries", []peerStep{sends(0, manifestOf2), sends(1, batchFrame(0, 2))}, recvFiles,
			ErrFDMismatch, "batch announces 2 fds but carried 1", true},
		{"batch without fds", []peerStep{sends(0, manifestOf2, batchFrame(0, 2))}, recvFiles,
			ErrFDMismatch, "batch announces 2 fds but carried 0", true},
		{"batch beyond manifest", []peerStep{sends(0, manifestOf2), sends(3, batchFrame(0, 3))}, recvFiles,
			ErrFDMismatch, "batch of 3 entries overruns the manifest: 2 fds left", true},
		{"batch out of order", []peerStep{sends(0, manifestOf2), sends(2, batchFrame(1, 2))}, recvFiles,
			ErrUnexpected, "batch seq 1, want 0", true},
		{"empty batch", []peerStep{sends(0, manifestOf2, frame(TypeBatch, Batch{}))}, recvFiles,
			ErrMalformed, "batch of 0 entries, want 1 to 252", true},
		{"253 fds in a batch", []peerStep{
			sends(0, frame(TypeManifest, Manifest{Count: 253})), sends(253, batchFrame(0, 253))},
			recvFiles, ErrMalformed, "batch of 253 entries", true},
		{"entry without name", []peerStep{sends(0, manifestOf2),
			sends(2, frame(TypeBatch, Batch{Entries: []Entry{{Name: "a", Network: "tcp"}, {Network: "tcp"}}}))},
			recvFiles, ErrMalformed, "entry 1: malformed frame: entry has an empty name", true},
		{"abort mid-batch", []peerStep{sends(0, manifestOf2),
			sends(0, frame(TypeAbort, Abort{Reason: "changed my mind"}))},
			recvFiles, &abort, "changed my mind", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testutil.CheckLeaks(t)
			peer, rc := testutil.SocketPair(t)
			receiver := newTestConn(t, rc)
			for _, step := range tt.peer {
				step(t, peer)
			}
			err := tt.recv(receiver)
			checkErr(t, err, tt.want, tt.wantMsg)
			if tt.wantAbort {
				checkHearsAbort(t, peer, err)
			}
		})
	}
}

// checkHearsAbort checks that the peer was sent an Abort carrying err.
func checkHearsAbort(t *testing.T, peer *net.UnixConn, err error) {
	t.Helper()
	if err := peer.SetReadDeadline(time.Now().Add(testTimeout)); err != nil {
		t.Fatal(err)
	}
	fr := newFrameReader(peer)
	for {
		m, rerr := fr.next()
		if rerr != nil {
			t.Fatalf("peer reading for an abort: %v", rerr)
		}
		if m.Type == TypeAbort {
			// The receiver's own operation prefix may stay on its side.
			if got := abortError(m).Reason; got == "" || !strings.HasSuffix(err.Error(), got) {
				t.Errorf("peer heard abort %q; want the end of %q", got, err)
			}
			return
		}
	}
}

// A framing error leaves the stream out of step, so later reads fail too.
func TestRecvAfterFramingError(t *testing.T) {
	testutil.CheckLeaks(t)
	peer, rc := testutil.SocketPair(t)
	receiver := newTestConn(t, rc)
	writeFrames(t, peer, nil, []byte("garbage!"), hello)
	checkErr(t, recvAny(receiver), ErrMalformed, "bad magic")
	checkErr(t, recvAny(receiver), ErrMalformed, "stream unusable after an earlier error")
}

func TestRecvTimeout(t *testing.T) {
	testutil.CheckLeaks(t)
	peer, rc := testutil.SocketPair(t)
	receiver := newTestConn(t, rc)
	receiver.SetTimeout(20 * time.Millisecond)
	checkErr(t, recvAny(receiver), os.ErrDeadlineExceeded, "wire: recv: read")

	// A deadline mid-frame keeps what arrived: the stream stays in step.
	writeFrames(t, peer, nil, hello[:5])
	checkErr(t, recvAny(receiver), os.ErrDeadlineExceeded, "i/o timeout")
	writeFrames(t, peer, nil, hello[5:])
	receiver.SetTimeout(testTimeout)
	var h Hello
	if err := receiver.Expect(TypeHello, &h); err != nil || h.PID != 1 {
		t.Errorf("Expect(hello) after the timeouts: got %+v, %v; want pid 1, no error", h, err)
	}
}

func TestRecvFilesTimeout(t *testing.T) {
	testutil.CheckLeaks(t)
	peer, rc := testutil.SocketPair(t)
	receiver := newTestConn(t, rc)
	receiver.SetTimeout(20 * time.Millisecond)
	writeFrames(t, peer, nil, manifestOf2)
	_, _, err := receiver.RecvFiles()
	checkErr(t, err, os.ErrDeadlineExceeded, "recv batch 0 (after 0 of 2 fds)")
}

// SetDeadline bounds every later step until SetTimeout is called again.
func TestSetDeadline(t *testing.T) {
	testutil.CheckLeaks(t)
	peer, rc := testutil.SocketPair(t)
	receiver := newTestConn(t, rc)
	writeFrames(t, peer, nil, hello)
	receiver.SetDeadline(time.Now().Add(-time.Second))
	checkErr(t, recvAny(receiver), os.ErrDeadlineExceeded, "i/o timeout")
	checkErr(t, receiver.Send(TypeReady, Ready{}), os.ErrDeadlineExceeded, "wire: send ready")
	receiver.SetTimeout(testTimeout)
	if err := receiver.Expect(TypeHello, nil); err != nil {
		t.Errorf("Expect(hello) after SetTimeout: %v", err)
	}
}

// With room for fewer fds than arrive, the kernel sets MSG_CTRUNC.
func TestRecvTruncated(t *testing.T) {
	testutil.CheckLeaks(t)
	peer, rc := testutil.SocketPair(t)
	receiver := newTestConn(t, rc)
	receiver.oob = make([]byte, unix.CmsgSpace(4)) // room for 2 fds on 64-bit, 1 on 32
	writeFrames(t, peer, nil, frame(TypeManifest, Manifest{Count: 3}))
	writeFrames(t, peer, makeFDs(t, 3), batchFrame(0, 3))
	checkErr(t, recvFiles(receiver), ErrTruncated, "control data filled the")
}

// fds that wait for the rest of their frame belong to the Conn until
// then, and Close closes them.
func TestClosePendingFDs(t *testing.T) {
	testutil.CheckLeaks(t)
	peer, rc := testutil.SocketPair(t)
	receiver := NewConn(rc)
	receiver.SetTimeout(20 * time.Millisecond)
	b := batchFrame(0, 3)
	writeFrames(t, peer, nil, frame(TypeManifest, Manifest{Count: 3}))
	writeFrames(t, peer, makeFDs(t, 3), b[:len(b)/2])
	checkErr(t, recvFiles(receiver), os.ErrDeadlineExceeded, "i/o timeout")
	if err := receiver.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := receiver.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: got %v; want net.ErrClosed", err)
	}
}

// When the stream ends mid-frame, fds that came with the partial frame are
// closed at once, not only at Close.
func TestReadErrorClosesPendingFDs(t *testing.T) {
	testutil.CheckLeaks(t)
	peer, rc := testutil.SocketPair(t)
	receiver := newTestConn(t, rc)
	b := batchFrame(0, 3)
	writeFrames(t, peer, nil, frame(TypeManifest, Manifest{Count: 3}))
	writeFrames(t, peer, makeFDs(t, 3), b[:len(b)/2])
	hangsUp(t, peer)
	before := fdCount()
	checkErr(t, recvFiles(receiver), io.ErrUnexpectedEOF, "bytes of a batch frame")
	if after := fdCount(); after != before {
		t.Errorf("open fds: got %d after the failed Recv; want %d as before", after, before)
	}
}

// fdCount counts this process's open fds; 0 where /proc is absent.
func fdCount() int {
	fds, _ := testutil.OpenFDs(0)
	return len(fds)
}

// Close unblocks a receiver.
func TestCloseWhileReceiving(t *testing.T) {
	testutil.CheckLeaks(t)
	_, rc := testutil.SocketPair(t)
	receiver := newTestConn(t, rc)
	done := make(chan error, 1)
	go func() { done <- recvFiles(receiver) }()
	if err := receiver.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	checkErr(t, <-done, net.ErrClosed, "wire: recv manifest")
}

// One goroutine may send while another receives, on both ends at once.
func TestConcurrentSendRecv(t *testing.T) {
	testutil.CheckLeaks(t)
	a, b := connPair(t)
	const n = 200
	errs := make(chan error, 4)
	for _, c := range []*Conn{a, b} {
		go func() {
			for i := range n {
				if err := c.Send(TypeProgress, Progress{Event: "step", PID: i}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
		go func() {
			for i := range n {
				var p Progress
				if err := c.Expect(TypeProgress, &p); err != nil || p.PID != i {
					errs <- errors.Join(err, errors.New("progress out of order"))
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestPeerCred(t *testing.T) {
	testutil.CheckLeaks(t)
	a, _ := connPair(t)
	cred, err := a.PeerCred()
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("PeerCred: %v", err)
	}
	if err != nil {
		t.Fatalf("PeerCred: %v", err)
	}
	want := Cred{PID: os.Getpid(), UID: os.Getuid(), GID: os.Getgid()}
	if cred.PID == 0 {
		want.PID = 0 // not reported on this platform
	}
	if cred != want {
		t.Errorf("PeerCred() = %+v; want %+v", cred, want)
	}
}

// A peer that announces a large frame and trickles it a byte at a time,
// each byte carrying fds, must not pile descriptors up in the receiver:
// the first fds that are not the start of a wanted batch end the stream.
func TestTrickledFDsEndTheStream(t *testing.T) {
	testutil.CheckLeaks(t)
	peer, rc := testutil.SocketPair(t)
	receiver := newTestConn(t, rc)
	writeFrames(t, peer, nil, header("HO", 1, TypeRequest, MaxFrameSize))
	written := make(chan error, 1)
	fds := makeFDs(t, 200)
	go func() {
		var err error
		for i := 0; i < 20 && err == nil; i++ {
			err = writeMsg(peer, []byte{'x'}, fds)
		}
		written <- err
	}()
	checkErr(t, recvAny(receiver), ErrUnexpected, "200 fds arrived while no batch was expected")
	receiver.Close()
	<-written
}

// With TrackSenders, the kernel names the process that wrote each frame.
func TestLastSender(t *testing.T) {
	testutil.CheckLeaks(t)
	peer, rc := testutil.SocketPair(t)
	receiver := newTestConn(t, rc)
	if _, ok := receiver.LastSender(); ok {
		t.Fatal("LastSender before TrackSenders: got ok; want not ok")
	}
	if err := receiver.TrackSenders(); errors.Is(err, errors.ErrUnsupported) {
		t.Skip(err)
	} else if err != nil {
		t.Fatal(err)
	}
	writeFrames(t, peer, nil, hello)
	if err := recvAny(receiver); err != nil {
		t.Fatal(err)
	}
	got, ok := receiver.LastSender()
	if !ok || got.PID != os.Getpid() || got.UID != os.Getuid() {
		t.Errorf("LastSender: got %+v, %v; want pid %d uid %d", got, ok, os.Getpid(), os.Getuid())
	}
}
