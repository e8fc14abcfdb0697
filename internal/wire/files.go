package wire

import (
	"errors"
	"fmt"
	"net"
	"os"
	"unicode/utf8"
)

// SendFiles sends a Manifest and then the fds in batches of at most
// MaxFDsPerMessage, each of which the peer acknowledges (PROTOCOL.md §4);
// it returns once every batch is acknowledged. entries[i] describes fds[i]. The caller
// keeps ownership of fds: SendFiles never closes them.
//
// A batch is smaller when its entries would not fit in MaxFrameSize. An
// Abort from the peer is returned as *AbortError.
func (c *Conn) SendFiles(entries []Entry, fds []int) error {
	return c.SendFilesAhead(entries, fds, nil)
}

// ackWindow is how many batches SendFiles writes before it waits for the
// oldest one's Ack. Waiting after every batch made each batch a round trip
// between two processes that are busy (handing over is when they are
// busiest): the Ack waits for the receiver to be scheduled, the next batch
// for the sender. With a window the receiver finds the next batch already
// queued. Neither side can stall the other: the receiver reads batches
// without waiting for anything else, and eight Acks are a few hundred
// bytes of the sender's socket buffer.
const ackWindow = 8

// SendFilesAhead is SendFiles for a sender that does not wait for the peer
// to speak first: it writes the manifest and the first batch straight
// away, then calls ahead (unless nil) to read whatever the peer sends
// before its first Ack (its hello, say), and goes on as SendFiles. A peer
// that is still starting up finds it all waiting, so no round trip to a
// busy sender lies on its way. An error from ahead is returned as it is.
func (c *Conn) SendFilesAhead(entries []Entry, fds []int, ahead func() error) error {
	if err := checkOutgoing(entries, fds, c.limitFDs()); err != nil {
		return fmt.Errorf("wire: send files: %w", err)
	}
	if err := c.Send(TypeManifest, Manifest{Count: len(fds)}); err != nil {
		return err
	}
	if len(fds) == 0 && ahead != nil {
		return ahead()
	}
	var unacked []sentBatch // oldest first
	for seq, sent := 0, 0; sent < len(fds); seq++ {
		n, err := c.writeBatch(seq, entries[sent:], fds[sent:])
		if err != nil {
			return c.batchFailed(sentBatch{seq: seq, after: sent}, len(fds), c.peerAbort(err, len(unacked)))
		}
		if seq == 0 && ahead != nil {
			if err := ahead(); err != nil {
				return err
			}
		}
		unacked = append(unacked, sentBatch{seq: seq, n: n, after: sent})
		sent += n
		for len(unacked) == ackWindow || (sent == len(fds) && len(unacked) > 0) {
			if err := c.awaitAck(unacked[0].seq, unacked[0].n); err != nil {
				return c.batchFailed(unacked[0], len(fds), err)
			}
			unacked = unacked[1:]
		}
	}
	return nil
}

// sentBatch is a batch written: its seq, its fd count, and how many fds
// went before it.
type sentBatch struct{ seq, n, after int }

// batchFailed names the batch that failed; an Abort is returned as it is.
func (c *Conn) batchFailed(b sentBatch, total int, err error) error {
	if ae, ok := errors.AsType[*AbortError](err); ok {
		return ae
	}
	return fmt.Errorf("wire: send batch %d (after %d of %d fds): %w", b.seq, b.after, total, err)
}

// peerAbort looks, after a write failed because the peer hung up, for the
// Abort it may have sent first, behind at most unacked Acks: a receiver
// that refused a batch says why and hangs up while later batches are on
// their way, and its reason says more than a broken pipe.
func (c *Conn) peerAbort(werr error, unacked int) error {
	if !errors.Is(werr, ErrClosed) {
		return werr
	}
	for range unacked + 1 {
		m, err := c.recvPlain()
		if err != nil {
			return werr
		}
		if m.Type == TypeAbort {
			return abortError(m)
		}
	}
	return werr
}

// writeBatch writes the next batch from the front of entries and fds and
// returns how many fds went with it.
func (c *Conn) writeBatch(seq int, entries []Entry, fds []int) (int, error) {
	frame, n, err := encodeBatch(seq, entries)
	if err != nil {
		return 0, err
	}
	return n, c.write(frame, fds[:n])
}

// awaitAck waits for the Ack of batch seq, which carried n fds.
func (c *Conn) awaitAck(seq, n int) error {
	var ack Ack
	if err := c.expect(TypeAck, &ack); err != nil {
		return err
	}
	if err := checkAck(ack, seq, n); err != nil {
		c.abort(err)
		return err
	}
	return nil
}

// encodeBatch encodes batch seq with as many of entries as fit: at most
// MaxFDsPerMessage, fewer if long names would overflow MaxFrameSize. One
// entry of valid lengths always fits.
func encodeBatch(seq int, entries []Entry) ([]byte, int, error) {
	n := min(len(entries), MaxFDsPerMessage)
	for {
		frame, err := encodeFrame(TypeBatch, Batch{Seq: seq, Entries: entries[:n]})
		if err == nil || n == 1 || !errors.Is(err, ErrFrameTooLarge) {
			return frame, n, err
		}
		n /= 2
	}
}

func checkAck(ack Ack, seq, n int) error {
	if ack.Seq != seq {
		return fmt.Errorf("%w: ack for batch %d, want %d", ErrUnexpected, ack.Seq, seq)
	}
	if ack.Count != n {
		return fmt.Errorf("peer acked %d fds of batch %d, which carried %d: %w",
			ack.Count, seq, n, ErrFDMismatch)
	}
	return nil
}

// checkOutgoing refuses what the receiving side would refuse, before any
// of it is sent.
func checkOutgoing(entries []Entry, fds []int, limit int) error {
	if len(entries) != len(fds) {
		return fmt.Errorf("%d entries for %d fds: %w", len(entries), len(fds), ErrFDMismatch)
	}
	if len(fds) > limit {
		return fmt.Errorf("%d fds exceed the limit of %d: %w", len(fds), limit, ErrTooManyFDs)
	}
	for i, e := range entries {
		if fds[i] < 0 {
			return fmt.Errorf("entry %d (%.64q): fd %d: %w", i, e.Name, fds[i], os.ErrInvalid)
		}
		if err := checkEntry(e); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
	}
	return nil
}

// checkEntry checks an Entry's fields against the protocol's limits.
func checkEntry(e Entry) error {
	if e.Name == "" {
		return fmt.Errorf("%w: entry has an empty name", ErrMalformed)
	}
	if e.Network == "" {
		return fmt.Errorf("%w: entry %.64q has an empty network", ErrMalformed, e.Name)
	}
	for _, f := range [...]struct{ field, s string }{
		{"name", e.Name}, {"network", e.Network}, {"addr", e.Addr},
	} {
		if len(f.s) > MaxNameLen {
			return fmt.Errorf("%w: %s of %d bytes exceeds limit of %d",
				ErrMalformed, f.field, len(f.s), MaxNameLen)
		}
		// JSON would replace invalid bytes, so the peer would see
		// another name than the one sent.
		if !utf8.ValidString(f.s) {
			return fmt.Errorf("%w: %s %.64q is not valid UTF-8", ErrMalformed, f.field, f.s)
		}
	}
	return nil
}

// fileRecv is what RecvFiles has received so far. It owns fds until
// RecvFiles hands them to its caller.
type fileRecv struct {
	count   int // announced by the manifest
	seq     int // of the next batch
	entries []Entry
	fds     []int
	batch   []Entry // reused to decode each batch into
}

// preallocFDs caps what a manifest makes RecvFiles allocate before any fd
// has arrived.
const preallocFDs = 2048

func newFileRecv(count int) *fileRecv {
	n := min(count, preallocFDs)
	return &fileRecv{
		count:   count,
		entries: make([]Entry, 0, n),
		fds:     make([]int, 0, n),
		batch:   make([]Entry, 0, min(count, MaxFDsPerMessage)),
	}
}

// RecvFiles receives what SendFiles sent. On success the caller owns every
// returned fd (each with close-on-exec set); on error every fd received so
// far has been closed, and the peer has been sent an Abort saying why
// (unless the error came from the peer or the connection itself). A
// manifest of more than the SetMaxFDs limit is ErrTooManyFDs; an Abort
// from the peer is returned as *AbortError.
func (c *Conn) RecvFiles() ([]Entry, []int, error) {
	r, err := c.recvManifest()
	for err == nil && len(r.fds) < r.count {
		err = c.recvBatch(r)
	}
	if err != nil {
		return nil, nil, c.filesFailed(r, err)
	}
	return r.entries, r.fds, nil
}

func (c *Conn) recvManifest() (*fileRecv, error) {
	var m Manifest
	err := c.expect(TypeManifest, &m)
	if err == nil {
		err = checkCount(m.Count, c.limitFDs())
	}
	if err != nil {
		return &fileRecv{}, fmt.Errorf("wire: recv manifest: %w", err)
	}
	return newFileRecv(m.Count), nil
}

func checkCount(n, limit int) error {
	if n < 0 {
		return fmt.Errorf("%w: manifest announces %d fds", ErrMalformed, n)
	}
	if n > limit {
		return fmt.Errorf("manifest announces %d fds; limit is %d: %w", n, limit, ErrTooManyFDs)
	}
	return nil
}

// recvBatch receives, checks and acknowledges the next batch.
func (c *Conn) recvBatch(r *fileRecv) error {
	seq, done := r.seq, len(r.fds)
	if err := c.recvBatchFrame(r); err != nil {
		return fmt.Errorf("wire: recv batch %d (after %d of %d fds): %w", seq, done, r.count, err)
	}
	return nil
}

func (c *Conn) recvBatchFrame(r *fileRecv) error {
	m, fds, err := c.recv(true)
	if err != nil {
		return err
	}
	// Decoding appends to the slice it is given, so a batch can reuse
	// r.batch; but it decodes into the old elements without zeroing them,
	// so a field the peer left out would keep the last batch's value.
	clear(r.batch[:cap(r.batch)])
	b := Batch{Entries: r.batch[:0]}
	err = checkMsg(m, TypeBatch, &b)
	if err == nil {
		err = r.check(b, len(fds))
	}
	if err != nil {
		closeFDs(fds)
		return err
	}
	r.seq++
	r.entries = append(r.entries, b.Entries...)
	r.fds = append(r.fds, fds...)
	if err := c.send(TypeAck, Ack{Seq: b.Seq, Count: len(fds)}); err != nil {
		return fmt.Errorf("send ack: %w", err)
	}
	return nil
}

// check checks batch b, which came with nfds fds, against what came before.
func (r *fileRecv) check(b Batch, nfds int) error {
	left := r.count - len(r.fds)
	switch {
	case b.Seq != r.seq:
		return fmt.Errorf("%w: batch seq %d, want %d", ErrUnexpected, b.Seq, r.seq)
	case len(b.Entries) == 0 || len(b.Entries) > MaxFDsPerMessage:
		return fmt.Errorf("%w: batch of %d entries, want 1 to %d",
			ErrMalformed, len(b.Entries), MaxFDsPerMessage)
	case len(b.Entries) > left:
		return fmt.Errorf("batch of %d entries overruns the manifest: %d fds left to come: %w",
			len(b.Entries), left, ErrFDMismatch)
	case nfds != len(b.Entries):
		return fmt.Errorf("batch announces %d fds but carried %d: %w", len(b.Entries), nfds, ErrFDMismatch)
	}
	for i, e := range b.Entries {
		if err := checkEntry(e); err != nil {
			return fmt.Errorf("entry %d: %w", len(r.fds)+i, err)
		}
	}
	return nil
}

// filesFailed closes every fd received so far and tells the peer why,
// unless the peer gave up first or cannot hear any more.
func (c *Conn) filesFailed(r *fileRecv, err error) error {
	closeFDs(r.fds)
	c.pending.drop()
	if ae, ok := errors.AsType[*AbortError](err); ok {
		return ae
	}
	if !errors.Is(err, ErrClosed) && !errors.Is(err, os.ErrDeadlineExceeded) &&
		!errors.Is(err, net.ErrClosed) {
		c.abort(err)
	}
	return err
}
