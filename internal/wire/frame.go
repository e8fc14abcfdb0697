package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// A frame is an 8-byte header and a JSON body:
//
//	'H' 'O' version type | body length (uint32, big endian) | body
const headerLen = 8

const (
	// minBufSize is the read buffer's first size; a batch of 252 short
	// entries fits in about 16 KiB.
	minBufSize = 16 << 10
	// keepBufSize is the most buffer an idle frameReader keeps, so that one
	// large frame does not pin a megabyte for the life of the connection.
	keepBufSize = 64 << 10
	// maxEmptyReads guards against an io.Reader that returns 0, nil forever.
	maxEmptyReads = 100
)

// appendHeader appends the header of a frame of type t with an n-byte body.
func appendHeader(dst []byte, t Type, n int) []byte {
	dst = append(dst, 'H', 'O', Version, byte(t))
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

// encodeFrame returns the whole frame (header and body) of type t carrying v.
func encodeFrame(t Type, v any) ([]byte, error) {
	if !t.known() {
		return nil, fmt.Errorf("%w: unknown frame type %s", ErrMalformed, t)
	}
	body, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s body: %w", t, err)
	}
	if len(body) > MaxFrameSize {
		return nil, tooLarge(t, len(body))
	}
	frame := appendHeader(make([]byte, 0, headerLen+len(body)), t, len(body))
	return append(frame, body...), nil
}

func tooLarge(t Type, n int) error {
	return fmt.Errorf("%s frame body of %d bytes exceeds limit of %d: %w",
		t, n, MaxFrameSize, ErrFrameTooLarge)
}

// parseHeader checks a frame header and returns the type and body length.
// The version is checked before the type so that a newer peer is told
// apart from garbage.
func parseHeader(h []byte) (Type, int, error) {
	if h[0] != 'H' || h[1] != 'O' {
		return 0, 0, fmt.Errorf("%w: bad magic %q, want \"HO\"", ErrMalformed, h[:2])
	}
	if h[2] != Version {
		return 0, 0, &VersionError{Got: int(h[2]), Want: Version}
	}
	t := Type(h[3])
	if !t.known() {
		return 0, 0, fmt.Errorf("%w: unknown frame type %s", ErrMalformed, t)
	}
	n := binary.BigEndian.Uint32(h[4:headerLen])
	if n > MaxFrameSize {
		// Compare as uint32: on 32-bit platforms int(n) could be negative.
		return 0, 0, tooLarge(t, int(min(n, 1<<31-1)))
	}
	return t, int(n), nil
}

// frameReader cuts frames out of a byte stream. It needs no socket, so the
// fuzzer drives it directly; a Conn feeds it from the socket. A stream may
// split a frame over many reads or join several frames in one, so bytes
// wait in buf until a whole frame is there.
type frameReader struct {
	r          io.Reader
	buf        []byte // buf[head:tail] holds bytes read but not yet cut
	head, tail int
	off        int64 // stream offset of buf[tail]: bytes read in all
}

func newFrameReader(r io.Reader) *frameReader { return &frameReader{r: r} }

// consumed is the stream offset just past the last frame cut.
func (fr *frameReader) consumed() int64 { return fr.off - int64(fr.tail-fr.head) }

// next returns the next frame. A read error (a deadline, say) leaves every
// byte read so far in place, so next may be called again; a framing error
// means the stream is out of step for good.
func (fr *frameReader) next() (Msg, error) {
	empty := 0
	for {
		m, need, err := fr.cut()
		if err != nil || need == 0 {
			return m, err
		}
		n, err := fr.fill(need)
		switch {
		case errors.Is(err, io.EOF) && n > 0:
			continue // the bytes may complete a frame; EOF comes again
		case errors.Is(err, io.EOF):
			return Msg{}, fr.eofError()
		case err != nil:
			return Msg{}, err
		case n > 0:
			empty = 0
		case empty >= maxEmptyReads:
			return Msg{}, io.ErrNoProgress
		default:
			empty++
		}
	}
}

// cut takes one whole frame off the buffer. If there is none yet it
// returns how many buffered bytes the next frame needs.
func (fr *frameReader) cut() (Msg, int, error) {
	b := fr.buf[fr.head:fr.tail]
	if len(b) < headerLen {
		return Msg{}, headerLen, nil
	}
	t, n, err := parseHeader(b)
	if err != nil {
		return Msg{}, 0, err
	}
	if len(b) < headerLen+n {
		return Msg{}, headerLen + n, nil
	}
	m := Msg{Type: t, Body: bytes.Clone(b[headerLen : headerLen+n])}
	fr.head += headerLen + n
	if fr.head == fr.tail && len(fr.buf) > keepBufSize {
		fr.buf, fr.head, fr.tail = nil, 0, 0
	}
	return m, 0, nil
}

// fill reads once from the stream, toward a frame of need bytes.
func (fr *frameReader) fill(need int) (int, error) {
	fr.makeRoom(need)
	n, err := fr.r.Read(fr.buf[fr.tail:])
	fr.tail += n
	fr.off += int64(n)
	return n, err
}

// makeRoom makes space to read into. It grows the buffer toward need only
// as data arrives, so a peer that merely announces a large frame does not
// make us allocate it.
func (fr *frameReader) makeRoom(need int) {
	if fr.head == fr.tail {
		fr.head, fr.tail = 0, 0
	}
	if fr.tail < len(fr.buf) {
		return
	}
	have := fr.tail - fr.head
	if fr.head > 0 {
		copy(fr.buf, fr.buf[fr.head:fr.tail])
		fr.head, fr.tail = 0, have
		return
	}
	// The buffer is full of one incomplete frame, so need > len(fr.buf).
	grown := make([]byte, min(max(2*len(fr.buf), minBufSize), max(need, minBufSize)))
	copy(grown, fr.buf[:have])
	fr.buf = grown
}

// eofError describes where in a frame the stream ended.
func (fr *frameReader) eofError() error {
	have := fr.buf[fr.head:fr.tail]
	switch {
	case len(have) == 0:
		return fmt.Errorf("%w: %w", ErrClosed, io.EOF)
	case len(have) < headerLen:
		return fmt.Errorf("%w: got %d of %d header bytes: %w",
			ErrClosed, len(have), headerLen, io.ErrUnexpectedEOF)
	}
	t, n, _ := parseHeader(have) // cut already accepted this header
	return fmt.Errorf("%w: got %d of %d bytes of a %s frame: %w",
		ErrClosed, len(have), headerLen+n, t, io.ErrUnexpectedEOF)
}
