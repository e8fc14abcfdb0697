package wire

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// A frame is an 8-byte header and a JSON body (PROTOCOL.md §2):
//
//	'H' 'O' version type | body length (uint32, big endian) | body
const headerLen = 8

const (
	// minBufSize is the first size of a frame body's buffer; it grows
	// toward the announced length only as data arrives.
	minBufSize = 16 << 10
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

func tooLarge(t Type, n int) error { return tooLargeLimit(t, uint64(n), MaxFrameSize) }

func tooLargeLimit(t Type, n uint64, limit int) error {
	return fmt.Errorf("%s frame body of %d bytes exceeds limit of %d: %w",
		t, n, limit, ErrFrameTooLarge)
}

// parseHeader checks a frame header and returns the type and body length.
// The version is checked before the type so that a newer peer is told
// apart from garbage.
func parseHeader(h []byte, limit int) (Type, int, error) {
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
	if uint64(n) > uint64(limit) {
		// Compare as uint64: on 32-bit platforms int(n) could be negative.
		return 0, 0, tooLargeLimit(t, uint64(n), limit)
	}
	return t, int(n), nil
}

// frameReader cuts frames out of a byte stream. It needs no socket, so the
// fuzzer drives it directly; a Conn feeds it from the socket.
//
// It never reads past the frame it is cutting: the header first, then
// exactly the body it announces. On a Unix stream socket each read then
// returns bytes of one frame only, so the descriptors that come with a
// read belong to the frame being read, and a Conn can refuse them at once
// anywhere but at the start of a batch.
type frameReader struct {
	r     io.Reader
	limit int // the largest body accepted

	hdr   [headerLen]byte
	nhdr  int // header bytes read of the current frame
	typ   Type
	size  int    // the body length the header announced
	body  []byte // body[:nbody] has been read
	nbody int
	off   int64 // stream bytes read in all
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{r: r, limit: MaxFrameSize}
}

// consumed is the stream offset just past the last byte read.
func (fr *frameReader) consumed() int64 { return fr.off }

// pos is how far into the current frame the reader is: 0 means the next
// read starts a frame.
func (fr *frameReader) pos() int { return fr.nhdr + fr.nbody }

// next returns the next frame. A read error (a deadline, say) leaves every
// byte read so far in place, so next may be called again; a framing error
// means the stream is out of step for good.
func (fr *frameReader) next() (Msg, error) {
	empty := 0
	for {
		done, err := fr.step()
		if err != nil || done {
			if done {
				return fr.take(), nil
			}
			return Msg{}, err
		}
		n, err := fr.fill()
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

// step parses the header once it is whole and reports whether the frame
// is complete.
func (fr *frameReader) step() (bool, error) {
	if fr.nhdr < headerLen {
		return false, nil
	}
	if fr.body == nil {
		t, n, err := parseHeader(fr.hdr[:], fr.limit)
		if err != nil {
			return false, err
		}
		fr.typ, fr.size = t, n
		fr.body = make([]byte, min(n, minBufSize))
	}
	return fr.nbody == fr.size, nil
}

// fill reads once from the stream, never past the current frame.
func (fr *frameReader) fill() (int, error) {
	if fr.nhdr < headerLen {
		n, err := fr.r.Read(fr.hdr[fr.nhdr:])
		fr.nhdr += n
		fr.off += int64(n)
		return n, err
	}
	fr.makeRoom()
	n, err := fr.r.Read(fr.body[fr.nbody:min(len(fr.body), fr.size)])
	fr.nbody += n
	fr.off += int64(n)
	return n, err
}

// makeRoom grows the body buffer toward the announced size only as data
// arrives, so a peer that merely announces a large frame does not make us
// allocate it.
func (fr *frameReader) makeRoom() {
	if fr.nbody < len(fr.body) {
		return
	}
	grown := make([]byte, min(2*len(fr.body), fr.size))
	copy(grown, fr.body[:fr.nbody])
	fr.body = grown
}

// take hands out the completed frame and resets for the next one.
func (fr *frameReader) take() Msg {
	m := Msg{Type: fr.typ, Body: fr.body[:fr.size:fr.size]}
	fr.nhdr, fr.body, fr.nbody, fr.size = 0, nil, 0, 0
	return m
}

// eofError describes where in a frame the stream ended.
func (fr *frameReader) eofError() error {
	switch {
	case fr.pos() == 0:
		return cleanClose{}
	case fr.nhdr < headerLen:
		return fmt.Errorf("%w: got %d of %d header bytes: %w",
			ErrClosed, fr.nhdr, headerLen, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("%w: got %d of %d bytes of a %s frame: %w",
		ErrClosed, headerLen+fr.nbody, headerLen+fr.size, fr.typ, io.ErrUnexpectedEOF)
}

// cleanClose is a hang-up between frames: it is ErrClosed and io.EOF, and
// says so once.
type cleanClose struct{}

func (cleanClose) Error() string { return ErrClosed.Error() }

func (cleanClose) Is(target error) bool { return target == ErrClosed || target == io.EOF }
