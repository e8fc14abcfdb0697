package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestTypeString(t *testing.T) {
	tests := []struct {
		typ  Type
		want string
	}{
		{TypeHello, "hello"},
		{TypeManifest, "manifest"},
		{TypeBatch, "batch"},
		{TypeAck, "ack"},
		{TypeReady, "ready"},
		{TypeReadyAck, "ready-ack"},
		{TypeAbort, "abort"},
		{TypeRequest, "request"},
		{TypeStatus, "status"},
		{TypeProgress, "progress"},
		{TypeResult, "result"},
		{0, "type(0)"},
		{42, "type(42)"},
		{255, "type(255)"},
	}
	for _, tt := range tests {
		if got := tt.typ.String(); got != tt.want {
			t.Errorf("Type(%d).String() = %q; want %q", uint8(tt.typ), got, tt.want)
		}
	}
}

func ExampleType_String() {
	fmt.Println(TypeBatch, TypeReadyAck, Type(42))
	// Output: batch ready-ack type(42)
}

func TestEncodeFrame(t *testing.T) {
	got, err := encodeFrame(TypeAck, Ack{Seq: 3, Count: 252})
	if err != nil {
		t.Fatalf("encodeFrame: %v", err)
	}
	body := `{"seq":3,"count":252}`
	want := append([]byte{'H', 'O', 1, 4, 0, 0, 0, byte(len(body))}, body...)
	if !bytes.Equal(got, want) {
		t.Errorf("encodeFrame = %q; want %q", got, want)
	}
}

func TestEncodeFrameRefuses(t *testing.T) {
	tests := []struct {
		name, wantMsg string
		typ           Type
		v             any
		want          error
	}{
		{"unknown type", "type(42)", 42, Ack{}, ErrMalformed},
		{"type zero", "type(0)", 0, Ack{}, ErrMalformed},
		{"too large", "exceeds limit of 1048576", TypeAbort, Abort{Reason: strings.Repeat("x", MaxFrameSize)},
			ErrFrameTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := encodeFrame(tt.typ, tt.v)
			if !errors.Is(err, tt.want) || !strings.Contains(fmt.Sprint(err), tt.wantMsg) {
				t.Errorf("encodeFrame: got error %v; want %v mentioning %q", err, tt.want, tt.wantMsg)
			}
		})
	}
	if _, err := encodeFrame(TypeHello, make(chan int)); err == nil {
		t.Errorf("encodeFrame of a channel: got no error; want a JSON error")
	}
}

// chunkReader returns its data at most n bytes per Read, as a stream
// socket may.
type chunkReader struct {
	data []byte
	n    int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.n)], r.data)
	r.data = r.data[n:]
	return n, nil
}

// rawFrame builds a frame by hand, so that its body can be wrong.
func rawFrame(t Type, body string) []byte {
	return append(appendHeader(nil, t, len(body)), body...)
}

// header builds a frame header by hand, so that any field can be wrong.
func header(magic string, version byte, typ Type, n uint32) []byte {
	h := append([]byte(magic), version, byte(typ))
	return binary.BigEndian.AppendUint32(h, n)
}

func TestFrameReader(t *testing.T) {
	hello := rawFrame(TypeHello, `{"pid":1}`)
	ack := rawFrame(TypeAck, `{"seq":0,"count":1}`)
	big := rawFrame(TypeAbort, `{"reason":"`+strings.Repeat("r", 100_000)+`"}`)
	stream := bytes.Join([][]byte{hello, ack, big, rawFrame(TypeReady, "")}, nil)
	for _, chunk := range []int{1, 3, 8, 4096, len(stream)} {
		fr := newFrameReader(&chunkReader{data: stream, n: chunk})
		var types []Type
		for {
			m, err := fr.next()
			if errors.Is(err, ErrClosed) && errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("chunks of %d: next: %v", chunk, err)
			}
			types = append(types, m.Type)
		}
		got := fmt.Sprint(types)
		if want := "[hello ack abort ready]"; got != want {
			t.Errorf("chunks of %d: got frames %s; want %s", chunk, got, want)
		}
		if fr.consumed() != int64(len(stream)) {
			t.Errorf("chunks of %d: consumed %d bytes; want %d", chunk, fr.consumed(), len(stream))
		}
	}
}

func TestFrameReaderRefuses(t *testing.T) {
	var verr *VersionError
	tests := []struct {
		name    string
		data    []byte
		want    any
		wantMsg string
	}{
		{"empty stream", nil, io.EOF, "connection closed by peer"},
		{"half a header", []byte("HO\x01\x01"), io.ErrUnexpectedEOF, "got 4 of 8 header bytes"},
		{"half a body", rawFrame(TypeHello, `{"pid":1}`)[:12], io.ErrUnexpectedEOF,
			"got 12 of 17 bytes of a hello frame"},
		{"bad magic", []byte("GET / HTTP/1.1\r\n"), ErrMalformed, `bad magic "GE"`},
		{"version 2", header("HO", 2, TypeHello, 2), &verr, "peer speaks protocol version 2"},
		{"version 0", header("HO", 0, TypeHello, 2), &verr, "peer speaks protocol version 0"},
		{"type 0", header("HO", 1, 0, 2), ErrMalformed, "unknown frame type type(0)"},
		{"type 42", header("HO", 1, 42, 2), ErrMalformed, "unknown frame type type(42)"},
		{"too large", header("HO", 1, TypeHello, 2_000_000), ErrFrameTooLarge,
			"hello frame body of 2000000 bytes exceeds limit of 1048576"},
		{"largest length", header("HO", 1, TypeHello, 1<<32-1), ErrFrameTooLarge,
			"hello frame body of 4294967295 bytes exceeds limit of 1048576"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newFrameReader(&chunkReader{data: tt.data, n: 3}).next()
			if err == nil {
				t.Fatalf("next: got no error; want %v", tt.want)
			}
			if w, ok := tt.want.(error); ok && !errors.Is(err, w) {
				t.Errorf("next: got error %q; want it to wrap %q", err, w)
			}
			if w, ok := tt.want.(**VersionError); ok && !errors.As(err, w) {
				t.Errorf("next: got error %q; want a *VersionError", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("next: got error %q; want it to mention %q", err, tt.wantMsg)
			}
		})
	}
}

// A peer that announces a large frame and sends little must not make the
// reader allocate the whole frame.
func TestFrameReaderGrowsWithData(t *testing.T) {
	fr := newFrameReader(&chunkReader{data: header("HO", 1, TypeHello, MaxFrameSize), n: 8})
	if _, err := fr.next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("next: got %v; want io.ErrUnexpectedEOF", err)
	}
	if cap(fr.body) > minBufSize {
		t.Errorf("buffer of %d bytes after 8 bytes of data; want at most %d", cap(fr.body), minBufSize)
	}
}

// frameSeeds are inputs for the fuzzers: valid streams and near misses.
func frameSeeds() [][]byte {
	hello := rawFrame(TypeHello, `{"pid":42,"generation":7,"draining":[{"pid":41,"generation":6}]}`)
	manifest := rawFrame(TypeManifest, `{"count":1}`)
	batch := rawFrame(TypeBatch, `{"seq":0,"entries":[{"name":"http","network":"tcp","addr":"127.0.0.1:80"}]}`)
	return [][]byte{
		nil,
		hello,
		bytes.Join([][]byte{hello, manifest, batch}, nil),
		bytes.Join([][]byte{manifest, batch, rawFrame(TypeReady, `{"pid":1}`)}, nil),
		rawFrame(TypeAbort, `{"reason":"no"}`),
		rawFrame(TypeManifest, `{"count":-1}`),
		rawFrame(TypeManifest, `{"count":`),
		rawFrame(TypeBatch, `{"seq":0,"entries":[]}`),
		rawFrame(TypeReady, ``),
		hello[:5],
		hello[:len(hello)-1],
		header("HO", 2, TypeHello, 0),
		header("HO", 1, 0, 0),
		header("HO", 1, 12, 0),
		header("HO", 1, TypeHello, MaxFrameSize+1),
		header("HO", 1, TypeHello, MaxFrameSize),
		[]byte("GET / HTTP/1.1\r\n\r\n"),
	}
}

func FuzzReadFrame(f *testing.F) {
	for i, seed := range frameSeeds() {
		f.Add(seed, uint8(i))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		fr := newFrameReader(&chunkReader{data: data, n: int(chunk)%17 + 1})
		off := 0
		for {
			m, err := fr.next()
			if err != nil {
				checkFrameError(t, err, off == len(data))
				return
			}
			off += checkFrame(t, m, data[off:])
			if fr.consumed() != int64(off) {
				t.Fatalf("consumed() = %d after frames of %d bytes", fr.consumed(), off)
			}
		}
	})
}

// checkFrame checks that m is exactly the frame at the front of data and
// that decoding it cannot panic. It returns the frame's length.
func checkFrame(t *testing.T, m Msg, data []byte) int {
	if !m.Type.known() || len(m.Body) > MaxFrameSize {
		t.Fatalf("got frame of type %s with %d-byte body", m.Type, len(m.Body))
	}
	frame := append(appendHeader(nil, m.Type, len(m.Body)), m.Body...)
	if !bytes.HasPrefix(data, frame) {
		t.Fatalf("got frame %q; not what the stream holds", frame)
	}
	for _, v := range []any{new(Hello), new(Manifest), new(Batch), new(Ack), new(Abort), new(Result)} {
		_ = m.Decode(v)
	}
	return len(frame)
}

// checkFrameError checks that err is one of the errors framing may return.
func checkFrameError(t *testing.T, err error, atBoundary bool) {
	var verr *VersionError
	switch {
	case err.Error() == "":
		t.Fatalf("got an error with an empty message")
	case errors.Is(err, ErrClosed):
		if clean := errors.Is(err, io.EOF); clean != atBoundary {
			t.Fatalf("got %q (clean EOF %v); want clean EOF %v", err, clean, atBoundary)
		}
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrFrameTooLarge), errors.As(err, &verr):
	default:
		t.Fatalf("got error %q; want ErrClosed, ErrMalformed, ErrFrameTooLarge or *VersionError", err)
	}
}
