package brpcserver_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/plugink/plugink/examples/brpc-client/internal/brpcserver"
	"github.com/plugink/plugink/examples/brpc-client/internal/echotest"
	"github.com/plugink/plugink/examples/brpc-client/micro/client"
	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc"
	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
	"github.com/plugink/plugink/examples/brpc-client/proto/echopb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// inspect is a hand-written service whose methods show what a handler
// sees, and what the server makes of a handler's failures.
var inspect = grpc.ServiceDesc{
	ServiceName: "test.Inspect",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{
		{MethodName: "LogID", Handler: handler(func(ctx context.Context, _ *echopb.EchoRequest) (any, error) {
			return &echopb.EchoResponse{Message: proto.String(fmt.Sprint(brpcserver.LogID(ctx)))}, nil
		})},
		{MethodName: "Deadline", Handler: handler(func(ctx context.Context, _ *echopb.EchoRequest) (any, error) {
			d, ok := ctx.Deadline()
			return &echopb.EchoResponse{Message: proto.String(fmt.Sprint(ok && time.Until(d) <= time.Minute))}, nil
		})},
		{MethodName: "Fail", Handler: handler(func(context.Context, *echopb.EchoRequest) (any, error) {
			return nil, errors.New("database on fire")
		})},
		{MethodName: "Overcrowded", Handler: handler(func(context.Context, *echopb.EchoRequest) (any, error) {
			return nil, fmt.Errorf("busy: %w", &baidustd.Error{Code: baidustd.EOVERCROWDED, Text: "too many requests"})
		})},
		{MethodName: "Panic", Handler: handler(func(context.Context, *echopb.EchoRequest) (any, error) {
			panic("boom")
		})},
		{MethodName: "NotProto", Handler: handler(func(context.Context, *echopb.EchoRequest) (any, error) {
			return "a string", nil
		})},
		{MethodName: "Incomplete", Handler: handler(func(context.Context, *echopb.EchoRequest) (any, error) {
			return &echopb.EchoResponse{}, nil
		})},
	},
}

func handler(f func(context.Context, *echopb.EchoRequest) (any, error)) grpc.MethodHandler {
	return func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		var req echopb.EchoRequest
		if err := dec(&req); err != nil {
			return nil, err
		}
		return f(ctx, &req)
	}
}

// start serves the echo and inspect services with the real server.
func start(t *testing.T, opts ...brpcserver.Option) (*brpcserver.Server, string) {
	t.Helper()
	srv := echotest.StartBRPC(t, echotest.Config{Options: opts, Register: func(s *brpcserver.Server) {
		s.RegisterService(&inspect, nil)
	}})
	return srv.Server, srv.Addr
}

func call(c client.Client, method string, opts ...client.CallOption) (string, error) {
	var rsp echopb.EchoResponse
	err := c.Call(context.Background(), "test.Inspect", method, &echopb.EchoRequest{Message: proto.String("x")}, &rsp, opts...)
	return rsp.GetMessage(), err
}

func TestHandlers(t *testing.T) {
	_, addr := start(t)
	c := brpc.NewClient(client.Address(addr), client.Timeout(time.Minute))
	defer c.Close()

	got, err := call(c, "LogID", brpc.LogID(1234))
	require.NoError(t, err)
	assert.Equal(t, "1234", got)
	got, err = call(c, "Deadline")
	require.NoError(t, err)
	assert.Equal(t, "true", got, "timeout_ms becomes the handler's deadline")

	tests := []struct {
		method string
		code   baidustd.Code
		text   string
	}{
		{"Fail", baidustd.EINTERNAL, "[" + addr + "][E2001]database on fire"},
		{"Overcrowded", baidustd.EOVERCROWDED, "[" + addr + "][E1011]too many requests"},
		{"Panic", baidustd.EINTERNAL, "[" + addr + "][E2001]handler panicked: boom"},
		{"NotProto", baidustd.ERESPONSE, "[" + addr + "][E2002]Handler returned string, not a protobuf message"},
		{"Incomplete", baidustd.ERESPONSE, "[" + addr + "][E2002]Fail to serialize response: "},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			_, err := call(c, tt.method)
			var e *brpc.Error
			require.True(t, errors.As(err, &e), "got %v", err)
			assert.Equal(t, tt.code, e.Code)
			assert.True(t, strings.HasPrefix(e.Text, tt.text), "%q starts with %q", e.Text, tt.text)
		})
	}
}

// rawCall sends one frame on a fresh connection and returns the answer.
func rawCall(t *testing.T, addr string, frame []byte) (baidustd.Frame, error) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer nc.Close()
	_, err = nc.Write(frame)
	require.NoError(t, err)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var f baidustd.Frame
	err = baidustd.NewDecoder(nc, 0).Decode(&f)
	return f, err
}

func TestBadRequests(t *testing.T) {
	_, addr := start(t)
	payload, _ := proto.Marshal(&echopb.EchoRequest{Message: proto.String("hi")})
	echoReq := func(m baidustd.Meta) *baidustd.Meta {
		m.Request = &baidustd.RequestMeta{ServiceName: "example.EchoService", MethodName: "Echo"}
		m.CorrelationID = 77
		return &m
	}
	tests := []struct {
		name  string
		frame []byte
		code  baidustd.Code
		text  string
	}{
		{"no request meta", baidustd.AppendFrame(nil, &baidustd.Meta{CorrelationID: 77}, payload, nil),
			baidustd.EREQUEST, "Missing request meta"},
		{"snappy", baidustd.AppendFrame(nil, echoReq(baidustd.Meta{CompressType: baidustd.CompressSnappy}), payload, nil),
			baidustd.EREQUEST, "Fail to decompress request=example.EchoRequest, CompressType=snappy, request_size=4: compress type snappy is not supported"},
		{"bad checksum", baidustd.AppendFrame(nil, echoReq(baidustd.Meta{ChecksumType: 1, ChecksumValue: []byte{0, 0, 0, 0}}), payload, nil),
			baidustd.EREQUEST, "Checksum mismatch of request=example.EchoRequest, ChecksumType=crc32c, request_size=4: CRC32C 00000000 of 4 bytes, want "},
		{"corrupt gzip", baidustd.AppendFrame(nil, echoReq(baidustd.Meta{CompressType: baidustd.CompressGzip}), []byte("definitely not a gzip stream"), nil),
			baidustd.EREQUEST, "Fail to decompress request=example.EchoRequest, CompressType=gzip, request_size=28: gzip: invalid header"},
		{"payload that does not parse", baidustd.AppendFrame(nil, echoReq(baidustd.Meta{}), []byte{0xff}, nil),
			baidustd.EREQUEST, "Fail to parse request=example.EchoRequest, ContentType=pb, CompressType=none, ChecksumType=none, request_size=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := rawCall(t, addr, tt.frame)
			require.NoError(t, err)
			assert.Equal(t, int64(77), f.Meta.CorrelationID)
			require.NotNil(t, f.Meta.Response)
			assert.Equal(t, int32(tt.code), f.Meta.Response.ErrorCode)
			assert.True(t, strings.HasPrefix(f.Meta.Response.ErrorText, fmt.Sprintf("[%s][E%d]%s", addr, tt.code, tt.text)),
				"error text %q", f.Meta.Response.ErrorText)
			assert.Empty(t, f.Payload)
		})
	}

	t.Run("checksummed request", func(t *testing.T) {
		f, err := rawCall(t, addr, baidustd.AppendFrame(nil, echoReq(baidustd.Meta{ChecksumType: 1, ChecksumValue: baidustd.Checksum(payload)}), payload, []byte("att")))
		require.NoError(t, err)
		assert.Equal(t, int32(0), f.Meta.Response.ErrorCode, "a successful response carries error_code 0")
		assert.Equal(t, "att", string(f.Attachment))
	})
}

func TestBadFramesCloseTheConnection(t *testing.T) {
	_, addr := start(t, brpcserver.MaxBodySize(100))
	for name, frame := range map[string][]byte{
		"wrong magic": []byte("GET / HTTP/1.1\r\n\r\n"),
		"too large":   baidustd.AppendFrame(nil, &baidustd.Meta{}, make([]byte, 200), nil),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := rawCall(t, addr, frame)
			require.Error(t, err)
			var ne net.Error
			assert.False(t, errors.As(err, &ne) && ne.Timeout(), "the server closes the connection: %v", err)
		})
	}
}

func TestCloseStopsEverything(t *testing.T) {
	s, addr := start(t)
	c := brpc.NewClient(client.Address(addr))
	defer c.Close()
	_, err := call(c, "LogID")
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = call(c, "LogID")
	require.Error(t, err)
	assert.True(t, errors.Is(err, brpc.ErrConnection) || errors.Is(err, syscall.ECONNREFUSED),
		"the call fails on the closed connection, or on dialing again: %v", err)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	assert.ErrorIs(t, s.Serve(l), brpcserver.ErrServerClosed, "Serve after Close")
}

// TestMaxBodySizeZeroIsTheDefault checks that MaxBodySize(0) leaves the
// default limit, also on decompressed payloads.
func TestMaxBodySizeZeroIsTheDefault(t *testing.T) {
	_, addr := start(t, brpcserver.MaxBodySize(0))
	c := brpc.NewClient(client.Address(addr), client.Timeout(time.Minute), brpc.Compress(baidustd.CompressGzip))
	defer c.Close()
	var rsp echopb.EchoResponse
	err := c.Call(context.Background(), "example.EchoService", "Echo", &echopb.EchoRequest{Message: proto.String("gzipped")}, &rsp)
	require.NoError(t, err)
	assert.Equal(t, "gzipped", rsp.GetMessage())
}
