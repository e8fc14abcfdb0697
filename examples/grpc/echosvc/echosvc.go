// Package echosvc is the gRPC service of the grpc example, written by hand
// so that neither protoc nor generated code is needed: messages are plain
// text carried by a codec of their own ("text"), and the service
// descriptor is built in Go.
//
// handoff.Echo has three methods: Hello (unary) answers "pid N: <text>";
// Count (server stream) sends N numbered messages 10 ms apart; Chat
// (bidirectional) answers each message with "pid N: <text>" until the
// client closes its side.
package echosvc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
)

// Msg is every request and answer of the service.
type Msg struct{ Text string }

// Codec marshals *Msg as its text. Clients select it with
// grpc.CallContentSubtype(Codec{}.Name()) or grpc.ForceCodec(Codec{}).
type Codec struct{}

// Name is the content subtype: application/grpc+text.
func (Codec) Name() string { return "text" }

// Marshal encodes a *Msg.
func (Codec) Marshal(v any) ([]byte, error) {
	m, ok := v.(*Msg)
	if !ok {
		return nil, fmt.Errorf("echosvc: cannot marshal %T", v)
	}
	return []byte(m.Text), nil
}

// Unmarshal decodes into a *Msg.
func (Codec) Unmarshal(data []byte, v any) error {
	m, ok := v.(*Msg)
	if !ok {
		return fmt.Errorf("echosvc: cannot unmarshal into %T", v)
	}
	m.Text = string(data)
	return nil
}

func init() { encoding.RegisterCodec(Codec{}) }

// MaxCount bounds Count's N.
const MaxCount = 10_000

type server struct{ pid string }

// Register adds handoff.Echo, served by this process, to s.
func Register(s *grpc.Server) {
	s.RegisterService(&desc, &server{pid: strconv.Itoa(os.Getpid())})
}

var desc = grpc.ServiceDesc{
	ServiceName: "handoff.Echo",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{MethodName: "Hello", Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		var in Msg
		if err := dec(&in); err != nil {
			return nil, err
		}
		return &Msg{Text: "pid " + srv.(*server).pid + ": " + in.Text}, nil
	}}},
	Streams: []grpc.StreamDesc{
		{StreamName: "Count", ServerStreams: true, Handler: func(srv any, st grpc.ServerStream) error { return srv.(*server).count(st) }},
		{StreamName: "Chat", ServerStreams: true, ClientStreams: true, Handler: func(srv any, st grpc.ServerStream) error { return srv.(*server).chat(st) }},
	},
}

func (s *server) count(st grpc.ServerStream) error {
	var in Msg
	if err := st.RecvMsg(&in); err != nil {
		return err
	}
	n, err := strconv.Atoi(in.Text)
	if err != nil || n < 0 || n > MaxCount {
		return fmt.Errorf("echosvc: Count wants a number 0..%d, got %q", MaxCount, in.Text)
	}
	for i := range n {
		if err := st.SendMsg(&Msg{Text: "pid " + s.pid + ": " + strconv.Itoa(i)}); err != nil {
			return err
		}
		select {
		case <-time.After(10 * time.Millisecond):
		case <-st.Context().Done():
			return st.Context().Err()
		}
	}
	return nil
}

func (s *server) chat(st grpc.ServerStream) error {
	for {
		var in Msg
		err := st.RecvMsg(&in)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := st.SendMsg(&Msg{Text: "pid " + s.pid + ": " + in.Text}); err != nil {
			return err
		}
	}
}

// Client calls handoff.Echo on cc.
type Client struct{ cc grpc.ClientConnInterface }

// NewClient returns a client of the service on cc.
func NewClient(cc grpc.ClientConnInterface) *Client { return &Client{cc: cc} }

var textCodec = grpc.ForceCodec(Codec{})

// Hello calls Hello.
func (c *Client) Hello(ctx context.Context, text string) (string, error) {
	var out Msg
	err := c.cc.Invoke(ctx, "/handoff.Echo/Hello", &Msg{Text: text}, &out, textCodec)
	return out.Text, err
}

// Count opens Count for n messages.
func (c *Client) Count(ctx context.Context, n int) (grpc.ClientStream, error) {
	st, err := c.cc.NewStream(ctx, &desc.Streams[0], "/handoff.Echo/Count", textCodec)
	if err != nil {
		return nil, err
	}
	if err := st.SendMsg(&Msg{Text: strconv.Itoa(n)}); err != nil {
		return nil, err
	}
	return st, st.CloseSend()
}

// Chat opens Chat.
func (c *Client) Chat(ctx context.Context) (grpc.ClientStream, error) {
	return c.cc.NewStream(ctx, &desc.Streams[1], "/handoff.Echo/Chat", textCodec)
}
