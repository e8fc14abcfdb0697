//go:build unix

package wire

import (
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/handoff-go/handoff/internal/testutil"
)

func TestRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 252, 253, 1000, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			if need := uint64(2*n + 256); fdLimit(t) < need {
				t.Skipf("RLIMIT_NOFILE is %d; %d fds need about %d", fdLimit(t), n, need)
			}
			testutil.CheckLeaks(t)
			roundTrip(t, makeEntries(n), makeFDs(t, n))
		})
	}
}

// roundTrip sends fds from one Conn to another and checks what arrives.
func roundTrip(t *testing.T, entries []Entry, fds []int) {
	t.Helper()
	sender, receiver := connPair(t)
	sent := sendAsync(sender, entries, fds)
	gotEntries, gotFDs, err := receiver.RecvFiles()
	t.Cleanup(func() { closeFDs(gotFDs) })
	if serr := <-sent; serr != nil {
		t.Errorf("SendFiles: %v", serr)
	}
	if err != nil {
		t.Fatalf("RecvFiles: %v", err)
	}
	checkEntries(t, gotEntries, entries)
	checkSameFiles(t, fds, gotFDs)
}

func checkEntries(t *testing.T, got, want []Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d entries; want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("entry %d: got %+.80v; want %+.80v", i, got[i], want[i])
		}
	}
}

// Entries of the longest names make a batch frame larger than a socket's
// send buffer, so sendmsg takes part of it and the rest follows; names
// that JSON escapes sixfold make it larger than MaxFrameSize, so the
// batch is split.
func TestRoundTripLongNames(t *testing.T) {
	tests := []struct {
		name string
		char string
	}{
		{"partial writes", "n"},
		{"split batches", "<"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testutil.CheckLeaks(t)
			entries := makeEntries(300)
			for i := range entries {
				entries[i].Name = fmt.Sprintf("%04d", i) + strings.Repeat(tt.char, MaxNameLen-4)
				entries[i].Addr = strings.Repeat(tt.char, MaxNameLen)
			}
			roundTrip(t, entries, makeFDs(t, len(entries)))
		})
	}
}

// Fields left out of one batch's entries must not keep the values of the
// batch before.
func TestRoundTripFreshEntries(t *testing.T) {
	testutil.CheckLeaks(t)
	entries := makeEntries(MaxFDsPerMessage + 2)
	for i := MaxFDsPerMessage; i < len(entries); i++ {
		entries[i].Addr = ""
	}
	roundTrip(t, entries, makeFDs(t, len(entries)))
}

// A receiver may find the manifest and the whole first batch in one read.
func TestManifestAndBatchInOneRead(t *testing.T) {
	testutil.CheckLeaks(t)
	peer, rc := testutil.SocketPair(t)
	receiver := newTestConn(t, rc)
	fds := makeFDs(t, 3)
	manifest, _ := encodeFrame(TypeManifest, Manifest{Count: 3})
	writeFrames(t, peer, nil, manifest)
	writeFrames(t, peer, fds, batchFrame(0, 3))
	_, got, err := receiver.RecvFiles()
	t.Cleanup(func() { closeFDs(got) })
	if err != nil {
		t.Fatalf("RecvFiles: %v", err)
	}
	checkSameFiles(t, fds, got)
}

func TestSendFilesRefuses(t *testing.T) {
	good := []Entry{{Name: "a", Network: "tcp"}}
	long := strings.Repeat("x", MaxNameLen+1)
	tests := []struct {
		name    string
		entries []Entry
		fds     []int
		want    error
		wantMsg string
	}{
		{"more fds than entries", good, []int{0, 1}, ErrFDMismatch, "1 entries for 2 fds"},
		{"more than the limit", makeEntries(5), []int{0, 1, 2, 3, 4}, ErrTooManyFDs, "5 fds exceed the limit of 4"},
		{"negative fd", good, []int{-1}, os.ErrInvalid, "fd -1"},
		{"empty name", []Entry{{Network: "tcp"}}, []int{0}, ErrMalformed, "empty name"},
		{"empty network", []Entry{{Name: "a"}}, []int{0}, ErrMalformed, "empty network"},
		{"long name", []Entry{{Name: long, Network: "tcp"}}, []int{0}, ErrMalformed,
			"name of 1025 bytes exceeds limit of 1024"},
		{"long addr", []Entry{{Name: "a", Network: "tcp", Addr: long}}, []int{0}, ErrMalformed,
			"addr of 1025 bytes"},
		{"bad UTF-8", []Entry{{Name: "a\xff", Network: "tcp"}}, []int{0}, ErrMalformed, "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testutil.CheckLeaks(t)
			sender, receiver := connPair(t)
			sender.SetMaxFDs(4)
			checkErr(t, sender.SendFiles(tt.entries, tt.fds), tt.want, tt.wantMsg)
			// Nothing went out: the next frame the peer sees is this one.
			if err := sender.Send(TypeReady, Ready{PID: 1}); err != nil {
				t.Fatalf("Send: %v", err)
			}
			if err := receiver.Expect(TypeReady, nil); err != nil {
				t.Errorf("Expect(ready) after the refused SendFiles: %v", err)
			}
		})
	}
}

// A manifest above the receiver's limit is refused and the sender hears
// why.
func TestRecvFilesTooMany(t *testing.T) {
	testutil.CheckLeaks(t)
	sender, receiver := connPair(t)
	receiver.SetMaxFDs(4)
	sent := sendAsync(sender, makeEntries(10), makeFDs(t, 10))
	_, _, err := receiver.RecvFiles()
	checkErr(t, err, ErrTooManyFDs, "manifest announces 10 fds; limit is 4")
	var abort *AbortError
	checkErr(t, <-sent, &abort, "limit is 4")
}

// The receiving side's answers to a batch, and what SendFiles makes of
// them.
func TestSendFilesBadAnswer(t *testing.T) {
	var abort *AbortError
	tests := []struct {
		name    string
		answer  func(peer *Conn) error
		want    any
		wantMsg string
	}{
		{"wrong ack seq", ack(Ack{Seq: 7, Count: 1}), ErrUnexpected, "ack for batch 7, want 0"},
		{"wrong ack count", ack(Ack{Seq: 0, Count: 2}), ErrFDMismatch, "peer acked 2 fds of batch 0, which carried 1"},
		{"not an ack", func(peer *Conn) error { return peer.Send(TypeReady, Ready{}) }, ErrUnexpected, "got ready, want ack"},
		{"abort", func(peer *Conn) error { return peer.Send(TypeAbort, Abort{Reason: "disk on fire"}) },
			&abort, "peer aborted: disk on fire"},
		{"hang-up", func(peer *Conn) error { return peer.Close() }, ErrClosed, "send batch 0 (after 0 of 1 fds)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testutil.CheckLeaks(t)
			sender, peer := connPair(t)
			sent := sendAsync(sender, makeEntries(1), makeFDs(t, 1))
			if err := takeBatch(peer); err != nil {
				t.Fatal(err)
			}
			if err := tt.answer(peer); err != nil {
				t.Fatalf("answer: %v", err)
			}
			checkErr(t, <-sent, tt.want, tt.wantMsg)
		})
	}
}

func ack(a Ack) func(*Conn) error {
	return func(peer *Conn) error { return peer.Send(TypeAck, a) }
}

// takeBatch reads a manifest and a batch, closing the batch's fds.
func takeBatch(peer *Conn) error {
	if err := peer.Expect(TypeManifest, nil); err != nil {
		return err
	}
	m, fds, err := peer.recv(true)
	closeFDs(fds)
	if err == nil && m.Type != TypeBatch {
		err = fmt.Errorf("got %s; want batch", m.Type)
	}
	return err
}

// After a bad ack the sender tells the peer why it gives up.
func TestSendFilesAbortsOnBadAck(t *testing.T) {
	testutil.CheckLeaks(t)
	sender, peer := connPair(t)
	sent := sendAsync(sender, makeEntries(1), makeFDs(t, 1))
	if err := takeBatch(peer); err != nil {
		t.Fatal(err)
	}
	if err := peer.Send(TypeAck, Ack{Seq: 1, Count: 1}); err != nil {
		t.Fatal(err)
	}
	checkErr(t, <-sent, ErrUnexpected, "ack for batch 1")
	var abort *AbortError
	checkErr(t, peer.Expect(TypeAck, nil), &abort, "ack for batch 1, want 0")
}

func TestSendFilesZero(t *testing.T) {
	testutil.CheckLeaks(t)
	sender, peer := connPair(t)
	if err := sender.SendFiles(nil, nil); err != nil {
		t.Fatalf("SendFiles(nil, nil): %v", err)
	}
	var m Manifest
	if err := peer.Expect(TypeManifest, &m); err != nil || m.Count != 0 {
		t.Errorf("Expect(manifest): got %+v, %v; want count 0, no error", m, err)
	}
}

func ExampleConn_SendFiles() {
	fds, err := socketpair()
	if err != nil {
		fmt.Println(err)
		return
	}
	old, next := exampleConn(fds[0]), exampleConn(fds[1])
	defer old.Close()
	defer next.Close()

	// The old process hands over the read end of a pipe, as "input".
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close() // SendFiles leaves the sender's fds open
	defer w.Close()
	sent := make(chan error, 1)
	go func() { sent <- old.SendFiles([]Entry{{Name: "input", Network: "file"}}, []int{int(r.Fd())}) }()

	entries, got, err := next.RecvFiles()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer closeFDs(got) // the receiver owns what it got
	fmt.Println(entries[0].Name, len(got), <-sent)
	// Output: input 1 <nil>
}

func exampleConn(fd int) *Conn {
	f := os.NewFile(uintptr(fd), "socketpair")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		panic(err)
	}
	return NewConn(c.(*net.UnixConn))
}

// SendFilesAhead writes the manifest and the first batch before it waits
// for anything: a peer that reads them all before it says hello gets them.
func TestSendFilesAhead(t *testing.T) {
	testutil.CheckLeaks(t)
	sender, receiver := connPair(t)
	fds := makeFDs(t, 3)
	heard := make(chan error, 1)
	sent := make(chan error, 1)
	go func() {
		sent <- sender.SendFilesAhead(makeEntries(3), fds, func() error {
			err := sender.Expect(TypeHello, &Hello{})
			heard <- err
			return err
		})
	}()
	if err := receiver.Expect(TypeManifest, &Manifest{}); err != nil {
		t.Fatal(err)
	}
	m, got, err := receiver.recv(true)
	t.Cleanup(func() { closeFDs(got) })
	if err != nil || m.Type != TypeBatch || len(got) != 3 {
		t.Fatalf("first batch before saying hello: %s with %d fds, %v; want a batch of 3", m.Type, len(got), err)
	}
	if err := receiver.Send(TypeHello, Hello{PID: 1}); err != nil {
		t.Fatal(err)
	}
	if err := <-heard; err != nil {
		t.Fatalf("ahead: %v", err)
	}
	if err := receiver.Send(TypeAck, Ack{Seq: 0, Count: 3}); err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatalf("SendFilesAhead: %v", err)
	}
}

// SendFiles writes batches ahead of their acks (ackWindow of them), so a
// receiver finds the next batch waiting instead of a sender to wake; then
// it waits, and every fd still arrives once the acks come.
func TestSendFilesWritesAhead(t *testing.T) {
	testutil.CheckLeaks(t)
	sender, peer := connPair(t)
	n := (ackWindow + 2) * MaxFDsPerMessage
	sent := sendAsync(sender, makeEntries(n), makeFDs(t, n))
	if err := peer.Expect(TypeManifest, nil); err != nil {
		t.Fatal(err)
	}
	peer.SetTimeout(5 * time.Second)
	for seq := range ackWindow {
		m, fds, err := peer.recv(true)
		closeFDs(fds)
		if err != nil || m.Type != TypeBatch {
			t.Fatalf("batch %d before any ack: %v, %v; want the batch already written", seq, m.Type, err)
		}
	}
	peer.SetTimeout(100 * time.Millisecond)
	if m, fds, err := peer.recv(true); err == nil {
		closeFDs(fds)
		t.Fatalf("a %s more than %d batches ahead of the acks", m.Type, ackWindow)
	}
	peer.SetTimeout(5 * time.Second)
	for seq := range ackWindow + 2 {
		if err := peer.Send(TypeAck, Ack{Seq: seq, Count: MaxFDsPerMessage}); err != nil {
			t.Fatal(err)
		}
		if seq < 2 {
			m, fds, err := peer.recv(true)
			closeFDs(fds)
			if err != nil || m.Type != TypeBatch {
				t.Fatalf("batch %d after ack %d: %v, %v", ackWindow+seq, seq, m.Type, err)
			}
		}
	}
	if err := <-sent; err != nil {
		t.Fatalf("SendFiles: %v", err)
	}
}

// A receiver that refuses a batch and hangs up while later batches are on
// their way: the sender reports its reason, not a broken pipe.
func TestSendFilesAbortWhileAhead(t *testing.T) {
	testutil.CheckLeaks(t)
	sender, peer := connPair(t)
	n := 40 * MaxFDsPerMessage // more than any socket buffer holds, so a write fails
	sent := sendAsync(sender, makeEntries(n), makeFDs(t, n))
	if err := takeBatch(peer); err != nil {
		t.Fatal(err)
	}
	if err := peer.Send(TypeAbort, Abort{Reason: "no room"}); err != nil {
		t.Fatal(err)
	}
	peer.Close()
	var abort *AbortError
	checkErr(t, <-sent, &abort, "peer aborted: no room")
}
