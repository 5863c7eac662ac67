package brpc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/plugink/plugink/examples/brpc-client/internal/echotest"
	"github.com/plugink/plugink/examples/brpc-client/micro/client"
	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc"
	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
	"github.com/plugink/plugink/examples/brpc-client/proto/echopb"
)

func TestEchoOverOneConnection(t *testing.T) {
	noLeaks(t)
	l := startEcho(t)
	c := newClient(l.Addr)
	t.Cleanup(func() { c.Close() })

	assert.Equal(t, "brpc", c.String())
	for _, msg := range []string{"hello", "", strings.Repeat("large ", 100000)} {
		mustEcho(t, c, msg)
	}
	assert.Equal(t, 1, l.Accepted(), "calls reuse the connection")
}

func TestAttachmentsAndCompression(t *testing.T) {
	for _, ct := range []baidustd.CompressType{baidustd.CompressNone, baidustd.CompressGzip, baidustd.CompressZlib} {
		t.Run(ct.String(), func(t *testing.T) {
			noLeaks(t)
			l := startEcho(t)
			c := newClient(l.Addr, brpc.Compress(ct))
			t.Cleanup(func() { c.Close() })

			var att []byte
			msg := strings.Repeat("compressible ", 50)
			got, err := echoCall(context.Background(), c, msg, brpc.Attachment([]byte("raw\x00bytes")), brpc.ResponseAttachment(&att))
			require.NoError(t, err)
			assert.Equal(t, msg, got)
			assert.Equal(t, "raw\x00bytes", string(att), "the echo server sends the attachment back")
		})
	}
}

// TestRequestFrame checks what the client puts on the wire.
func TestRequestFrame(t *testing.T) {
	noLeaks(t)
	frames := make(chan baidustd.Frame, 2)
	s := startScripted(t, func(_ int, nc net.Conn, d *baidustd.Decoder) {
		for {
			var f baidustd.Frame
			if d.Decode(&f) != nil {
				return
			}
			frames <- f
			nc.Write(reply(t, &f))
		}
	})
	c := newClient(s.Addr().String(), brpc.Compress(baidustd.CompressGzip), client.Timeout(5*time.Second))
	t.Cleanup(func() { c.Close() })

	// A long deadline, which the call cannot reach: timeout_ms is what was
	// left of it when the call sent it, between what is left after the call
	// and all of it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	_, err := echoCall(ctx, c, "first", brpc.LogID(42), brpc.Attachment([]byte("att")))
	require.NoError(t, err)
	dl, _ := ctx.Deadline()
	leftAfter := time.Until(dl)
	before := time.Now()
	mustEcho(t, c, "second")
	took := time.Since(before)

	f := <-frames
	req := f.Meta.Request
	require.NotNil(t, req)
	assert.Equal(t, "example.EchoService", req.ServiceName)
	assert.Equal(t, "Echo", req.MethodName)
	assert.Equal(t, int64(42), req.LogID)
	assert.True(t, int64(req.TimeoutMs) >= leftAfter.Milliseconds() && req.TimeoutMs <= 3600_000,
		"timeout_ms %d carries the deadline (%s left after the call)", req.TimeoutMs, leftAfter)
	assert.Equal(t, baidustd.CompressGzip, f.Meta.CompressType)
	assert.Equal(t, "att", string(f.Attachment), "the attachment is not compressed")
	payload, err := baidustd.Decompress(baidustd.CompressGzip, f.Payload, 1<<20)
	require.NoError(t, err)
	want, _ := proto.Marshal(&echopb.EchoRequest{Message: proto.String("first")})
	assert.Equal(t, want, payload)

	second := <-frames
	assert.NotEqual(t, f.Meta.CorrelationID, second.Meta.CorrelationID)
	// The client's 5 s timeout, counted from the call's start, less what
	// passed before the request was encoded (at most the whole call).
	ms := second.Meta.Request.TimeoutMs
	assert.True(t, ms <= 5000 && int64(ms) >= 5000-took.Milliseconds()-1,
		"timeout_ms %d: the client's timeout is sent when the context has none (the call took %s)", ms, took)
	assert.Zero(t, second.Meta.Request.LogID)
}

// TestMisbehavingServer runs one bad answer per case on the first
// connection. Each must be a clear error, and the same client must then
// work: on a new connection when the stream broke, on the same one when
// only the call failed.
func TestMisbehavingServer(t *testing.T) {
	okMeta := func(f *baidustd.Frame) *baidustd.Meta {
		return &baidustd.Meta{Response: &baidustd.ResponseMeta{}, CorrelationID: f.Meta.CorrelationID}
	}
	hdr := func(magic string, body, meta uint32) []byte {
		return append([]byte(magic), byte(body>>24), byte(body>>16), byte(body>>8), byte(body),
			byte(meta>>24), byte(meta>>16), byte(meta>>8), byte(meta))
	}
	tests := []struct {
		name string
		opts []client.Option
		// answer writes the bad answer to request f; it returns whether
		// the server goes on answering on this connection.
		answer func(nc net.Conn, f *baidustd.Frame) bool
		is     []error
		msg    string
		conns  int
	}{
		{
			name: "garbage",
			answer: func(nc net.Conn, _ *baidustd.Frame) bool {
				nc.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
				return false
			},
			is:    []error{brpc.ErrConnection, baidustd.ErrMagic},
			msg:   `connection broken: baidu_std: bad magic: got "HTTP", want "PRPC"`,
			conns: 2,
		},
		{
			name: "wrong magic",
			answer: func(nc net.Conn, f *baidustd.Frame) bool {
				b := baidustd.AppendFrame(nil, okMeta(f), nil, nil)
				copy(b, "RPCP")
				nc.Write(b)
				return false
			},
			is:    []error{brpc.ErrConnection, baidustd.ErrMagic},
			msg:   `bad magic: got "RPCP", want "PRPC"`,
			conns: 2,
		},
		{
			name:   "body over the default limit",
			answer: func(nc net.Conn, _ *baidustd.Frame) bool { nc.Write(hdr("PRPC", 64<<20+1, 10)); return false },
			is:     []error{brpc.ErrConnection, baidustd.ErrTooLarge},
			msg:    "body size 67108865 exceeds the limit of 67108864 bytes",
			conns:  2,
		},
		{
			name: "body over a configured limit",
			opts: []client.Option{brpc.MaxBodySize(1000)},
			answer: func(nc net.Conn, f *baidustd.Frame) bool {
				nc.Write(baidustd.AppendFrame(nil, okMeta(f), nil, make([]byte, 2000)))
				return false
			},
			is:    []error{brpc.ErrConnection, baidustd.ErrTooLarge},
			msg:   "exceeds the limit of 1000 bytes",
			conns: 2,
		},
		{
			name:   "meta size over body size",
			answer: func(nc net.Conn, _ *baidustd.Frame) bool { nc.Write(hdr("PRPC", 4, 9)); return false },
			is:     []error{brpc.ErrConnection, baidustd.ErrMetaSize},
			msg:    "meta size 9 > body size 4",
			conns:  2,
		},
		{
			name: "truncated frame",
			answer: func(nc net.Conn, f *baidustd.Frame) bool {
				b := baidustd.AppendFrame(nil, okMeta(f), []byte("payload"), nil)
				nc.Write(b[:len(b)-3])
				return false
			},
			is:    []error{brpc.ErrConnection, baidustd.ErrTruncated},
			msg:   "truncated frame: stream ended after",
			conns: 2,
		},
		{
			name: "malformed meta",
			answer: func(nc net.Conn, _ *baidustd.Frame) bool {
				nc.Write(append(hdr("PRPC", 3, 3), 0x20, 0xff, 0xff))
				return false
			},
			is:    []error{brpc.ErrConnection, baidustd.ErrMeta},
			msg:   "malformed meta: bad field 4",
			conns: 2,
		},
		{
			name: "reset mid-call",
			answer: func(nc net.Conn, _ *baidustd.Frame) bool {
				nc.(*net.TCPConn).SetLinger(0)
				return false
			},
			is:    []error{brpc.ErrConnection, syscall.ECONNRESET},
			msg:   "connection reset by peer",
			conns: 2,
		},
		{
			name:   "closed without an answer",
			answer: func(net.Conn, *baidustd.Frame) bool { return false },
			is:     []error{brpc.ErrConnection, io.EOF},
			msg:    "connection broken: server closed the connection: EOF",
			conns:  2,
		},
		{
			name: "error response",
			answer: func(nc net.Conn, f *baidustd.Frame) bool {
				m := okMeta(f)
				m.Response = &baidustd.ResponseMeta{ErrorCode: 2001, ErrorText: "[127.0.0.1:1][E2001]oops"}
				nc.Write(baidustd.AppendFrame(nil, m, nil, nil))
				return true
			},
			msg:   "EINTERNAL (2001): [127.0.0.1:1][E2001]oops",
			conns: 1,
		},
		{
			name: "payload that does not parse",
			answer: func(nc net.Conn, f *baidustd.Frame) bool {
				nc.Write(baidustd.AppendFrame(nil, okMeta(f), []byte{0xff}, nil))
				return true
			},
			msg:   "decode example.EchoResponse: ",
			conns: 1,
		},
		{
			name: "response without the required message",
			answer: func(nc net.Conn, f *baidustd.Frame) bool {
				nc.Write(baidustd.AppendFrame(nil, okMeta(f), nil, nil))
				return true
			},
			msg:   "required field example.EchoResponse.message not set",
			conns: 1,
		},
		{
			name: "corrupt gzip",
			answer: func(nc net.Conn, f *baidustd.Frame) bool {
				m := okMeta(f)
				m.CompressType = baidustd.CompressGzip
				nc.Write(baidustd.AppendFrame(nil, m, []byte("not gzip"), nil))
				return true
			},
			is:    []error{baidustd.ErrPayload},
			msg:   "malformed payload: gzip",
			conns: 1,
		},
		{
			name: "a request instead of a response",
			answer: func(nc net.Conn, f *baidustd.Frame) bool {
				nc.Write(baidustd.AppendFrame(nil, &f.Meta, f.Payload, nil))
				return true
			},
			is:    []error{baidustd.ErrNotResponse},
			conns: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			s := startScripted(t, func(i int, nc net.Conn, d *baidustd.Decoder) {
				if i == 0 {
					var f baidustd.Frame
					if d.Decode(&f) != nil || !tt.answer(nc, &f) {
						return
					}
				}
				serveEcho(t, nc, d)
			})
			c := newClient(s.Addr().String(), append(tt.opts, brpc.MaxRetry(0))...)
			t.Cleanup(func() { c.Close() })

			_, err := echoCall(context.Background(), c, "bad")
			require.Error(t, err)
			assert.Contains(t, err.Error(), "brpc: call example.EchoService.Echo on "+s.Addr().String()+": ")
			assert.Contains(t, err.Error(), tt.msg)
			for _, is := range tt.is {
				assert.ErrorIs(t, err, is)
			}
			var e *brpc.Error
			assert.Equal(t, len(tt.is) == 0 && strings.Contains(tt.msg, "(2001)"), errors.As(err, &e))

			mustEcho(t, c, "good")
			mustEcho(t, c, "still good")
			assert.Equal(t, tt.conns, s.Accepted())
		})
	}
}

func TestServerDown(t *testing.T) {
	noLeaks(t)
	l := echotest.Listen(t)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	c := newClient(addr)
	t.Cleanup(func() { c.Close() })

	_, err := echoCall(context.Background(), c, "anyone?")
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.Contains(t, err.Error(), "brpc: call example.EchoService.Echo on "+addr+": dial tcp "+addr)

	// The server comes up on the same port: the same client reaches it.
	nl, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s was taken meanwhile: %v", addr, err)
	}
	s := echotest.StartBRPC(t, echotest.Config{Listener: nl})
	mustEcho(t, c, "there you are")
	assert.Equal(t, 1, s.Accepted())
}

// TestDeadlineExceeded leaves a request unanswered until the client has
// given up on it; its late answer is dropped, and the connection serves the
// next calls.
func TestDeadlineExceeded(t *testing.T) {
	noLeaks(t)
	s := startScripted(t, func(i int, nc net.Conn, d *baidustd.Decoder) {
		var warm, held, next baidustd.Frame
		if i == 0 { // the first connection's first request warms it up
			if d.Decode(&warm) != nil {
				return
			}
			nc.Write(reply(t, &warm))
		}
		// The held request is answered only once the next one has come,
		// which its caller sends after it has given up.
		if d.Decode(&held) != nil || d.Decode(&next) != nil {
			return
		}
		nc.Write(reply(t, &held)) // late: its caller is gone
		nc.Write(reply(t, &next))
		serveEcho(t, nc, d)
	})
	// The client's own timeout is long: only the context's deadline can
	// end the held call in time.
	c := newClient(s.Addr().String(), client.Timeout(time.Minute))
	t.Cleanup(func() { c.Close() })
	mustEcho(t, c, "the connection is up") // so that the deadline is not spent dialing

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := echoCall(ctx, c, "slow")
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "waiting for the response: context deadline exceeded")
	assert.Less(t, time.Since(start), time.Minute, "ended by the context's deadline, not the client's timeout")

	mustEcho(t, c, "second")
	mustEcho(t, c, "third")
	assert.Equal(t, 1, s.Accepted())

	// The client's own timeout bounds calls without a deadline (the server
	// holds the first request on a new connection until a second one
	// comes; the timeout may pass while dialing, too), and a call timeout
	// bounds one call.
	slow := newClient(s.Addr().String(), client.Timeout(30*time.Millisecond))
	t.Cleanup(func() { slow.Close() })
	_, err = echoCall(context.Background(), slow, "x")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	_, err = echoCall(context.Background(), c, "y", client.WithTimeout(time.Nanosecond))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	mustEcho(t, c, "fine again")
}

func TestCanceled(t *testing.T) {
	noLeaks(t)
	held := make(chan struct{})
	s := startScripted(t, func(_ int, nc net.Conn, d *baidustd.Decoder) {
		var f baidustd.Frame
		if d.Decode(&f) != nil {
			return
		}
		close(held)
		serveEcho(t, nc, d)
	})
	c := newClient(s.Addr().String())
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-held; cancel() }()
	_, err := echoCall(ctx, c, "never answered")
	assert.ErrorIs(t, err, context.Canceled)
	mustEcho(t, c, "answered")
}

// TestOutOfOrder answers a batch of requests in reverse order: each call
// gets its own answer.
func TestOutOfOrder(t *testing.T) {
	noLeaks(t)
	const n = 16
	s := startScripted(t, func(_ int, nc net.Conn, d *baidustd.Decoder) {
		frames := make([]baidustd.Frame, n)
		for i := range frames {
			if d.Decode(&frames[i]) != nil {
				return
			}
		}
		for i := n - 1; i >= 0; i-- {
			nc.Write(reply(t, &frames[i]))
		}
		serveEcho(t, nc, d)
	})
	c := newClient(s.Addr().String())
	t.Cleanup(func() { c.Close() })

	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			msg := fmt.Sprintf("call %d", i)
			got, err := echoCall(context.Background(), c, msg)
			assert.NoError(t, err)
			assert.Equal(t, msg, got)
		})
	}
	wg.Wait()
	assert.Equal(t, 1, s.Accepted())
}

func TestConcurrentCallsShareOneConnection(t *testing.T) {
	noLeaks(t)
	l := startEcho(t)
	c := newClient(l.Addr)
	t.Cleanup(func() { c.Close() })

	const callers, calls = 64, 50
	var wg sync.WaitGroup
	for g := range callers {
		wg.Go(func() {
			for i := range calls {
				msg := fmt.Sprintf("%d/%d", g, i)
				var att []byte
				got, err := echoCall(context.Background(), c, msg, brpc.Attachment([]byte(msg)), brpc.ResponseAttachment(&att))
				if !assert.NoError(t, err) || !assert.Equal(t, msg, got) || !assert.Equal(t, msg, string(att)) {
					return
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, l.Accepted(), "the first calls wait for one dial")
}

// TestResetFailsEveryPendingCall breaks the connection while calls wait:
// each fails with the cause, and the client dials again for the next.
func TestResetFailsEveryPendingCall(t *testing.T) {
	noLeaks(t)
	const n = 10
	s := startScripted(t, func(i int, nc net.Conn, d *baidustd.Decoder) {
		if i == 0 {
			for range n {
				var f baidustd.Frame
				if d.Decode(&f) != nil {
					return
				}
			}
			nc.(*net.TCPConn).SetLinger(0)
			return
		}
		serveEcho(t, nc, d)
	})
	c := newClient(s.Addr().String(), brpc.MaxRetry(0))
	t.Cleanup(func() { c.Close() })

	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := echoCall(context.Background(), c, fmt.Sprint(i))
			assert.ErrorIs(t, err, brpc.ErrConnection)
			assert.ErrorIs(t, err, syscall.ECONNRESET)
		})
	}
	wg.Wait()
	mustEcho(t, c, "after the reset")
	assert.Equal(t, 2, s.Accepted())
}

func TestClose(t *testing.T) {
	noLeaks(t)
	got := make(chan struct{}, 3)
	s := startScripted(t, func(_ int, nc net.Conn, d *baidustd.Decoder) {
		for {
			var f baidustd.Frame
			if d.Decode(&f) != nil {
				return
			}
			got <- struct{}{}
		}
	})
	c := newClient(s.Addr().String())
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			_, err := echoCall(context.Background(), c, "pending")
			assert.ErrorIs(t, err, brpc.ErrClosed)
		})
	}
	for range 3 {
		<-got
	}
	require.NoError(t, c.Close())
	wg.Wait()
	_, err := echoCall(context.Background(), c, "after close")
	assert.ErrorIs(t, err, brpc.ErrClosed)
	assert.EqualError(t, err, "brpc: call example.EchoService.Echo on "+s.Addr().String()+": client closed")
	require.NoError(t, c.Close(), "Close twice is fine")
}

func TestServerErrors(t *testing.T) {
	noLeaks(t)
	l := startEcho(t)
	addr := l.Addr
	c := newClient(addr)
	t.Cleanup(func() { c.Close() })

	tests := []struct {
		name, service, method string
		req                   proto.Message
		code                  baidustd.Code
		text                  string
	}{
		// The codes and texts of bRPC 1.17's own echo_server, which the
		// example server imitates (see TestRealBRPCServer).
		{"unknown service", "example.Nope", "Echo", &echopb.EchoRequest{Message: proto.String("x")}, baidustd.ENOMETHOD,
			"[" + addr + "][E1002]Fail to find method=example.Nope/Echo"},
		{"unknown short service name", "Nope", "Echo", &echopb.EchoRequest{Message: proto.String("x")}, baidustd.ENOSERVICE,
			"[" + addr + "][E1001]Fail to find service=Nope"},
		{"unknown method", "example.EchoService", "Nope", &echopb.EchoRequest{Message: proto.String("x")}, baidustd.ENOMETHOD,
			"[" + addr + "][E1002]Fail to find method=example.EchoService/Nope"},
		{"empty request", "example.EchoService", "Echo", &emptypb.Empty{}, baidustd.EREQUEST,
			"[" + addr + "][E1003]Fail to parse request=example.EchoRequest, ContentType=pb, CompressType=none, ChecksumType=none, request_size=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Call(context.Background(), tt.service, tt.method, tt.req, &echopb.EchoResponse{})
			var e *brpc.Error
			require.True(t, errors.As(err, &e), "got %v", err)
			assert.Equal(t, tt.code, e.Code)
			assert.True(t, strings.HasPrefix(e.Text, tt.text), "%q starts with %q", e.Text, tt.text)
		})
	}
	_, err := echoCall(context.Background(), c, "still connected")
	require.NoError(t, err)
	var rsp echopb.EchoResponse
	require.NoError(t, c.Call(context.Background(), "EchoService", "Echo", &echopb.EchoRequest{Message: proto.String("short")}, &rsp),
		"a service name without its package, as jprotobuf sends it")
	assert.Equal(t, "short", rsp.GetMessage())
	assert.Equal(t, 1, l.Accepted())
}

func TestLocalErrors(t *testing.T) {
	noLeaks(t)
	l := startEcho(t)
	c := newClient(l.Addr)
	t.Cleanup(func() { c.Close() })

	err := c.Call(context.Background(), "example.EchoService", "Echo", &echopb.EchoRequest{}, &echopb.EchoResponse{})
	assert.ErrorContains(t, err, "encode example.EchoRequest: ")
	assert.ErrorContains(t, err, "required field example.EchoRequest.message not set")

	snappy := newClient(l.Addr, brpc.Compress(baidustd.CompressSnappy))
	t.Cleanup(func() { snappy.Close() })
	_, err = echoCall(context.Background(), snappy, "x")
	assert.ErrorContains(t, err, "compress type snappy is not supported")

	noAddr := brpc.NewClient()
	t.Cleanup(func() { noAddr.Close() })
	_, err = echoCall(context.Background(), noAddr, "x")
	assert.ErrorIs(t, err, client.ErrNoAddress)
	assert.Equal(t, 0, l.Accepted(), "nothing reached the server")
}

// TestServerThatStopsReading fills the socket buffers and the client's
// write queue: calls then fail at once with ErrOvercrowded, and the client
// works again once the server reads.
func TestServerThatStopsReading(t *testing.T) {
	noLeaks(t)
	first, reading := make(chan struct{}), make(chan struct{})
	s := startScripted(t, func(_ int, nc net.Conn, d *baidustd.Decoder) {
		var f baidustd.Frame
		if d.Decode(&f) != nil {
			return
		}
		close(first)
		<-reading
		nc.Write(reply(t, &f))
		serveEcho(t, nc, d)
	})
	c := newClient(s.Addr().String(), brpc.MaxQueued(1<<20))
	t.Cleanup(func() { c.Close() })

	// A first call, with no deadline the test can reach, makes the
	// connection, whose server then stops reading; the short calls below
	// all go out on it.
	firstDone := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		got, err := echoCall(ctx, c, "first")
		if err == nil && got != "first" {
			err = fmt.Errorf("got %q", got)
		}
		firstDone <- err
	}()
	<-first

	big := make([]byte, 1<<20)
	var err error
	for range 200 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		_, err = echoCall(ctx, c, "x", brpc.Attachment(big))
		cancel()
		if errors.Is(err, baidustd.ErrOvercrowded) {
			break
		}
		require.ErrorIs(t, err, context.DeadlineExceeded)
	}
	require.ErrorIs(t, err, baidustd.ErrOvercrowded)
	assert.NotErrorIs(t, err, brpc.ErrConnection)
	assert.Contains(t, err.Error(), "bytes queued for writing")

	close(reading)
	require.NoError(t, <-firstDone, "the first call is answered once the server reads")
	// The queue drains as the server reads; until it has, calls may still
	// find it full.
	for {
		_, err := echoCall(context.Background(), c, "drained")
		if err == nil {
			break
		}
		require.ErrorIs(t, err, baidustd.ErrOvercrowded)
		time.Sleep(10 * time.Millisecond)
	}
	assert.Equal(t, 1, s.Accepted())
}

// TestServerLateMidFrame has the first connection's server send half of a
// response frame and then nothing, without closing, or send it a byte
// every 50 ms (a frame of some 30 bytes, so more than a second): either
// way the frame is not whole in time, the call in flight fails with
// ErrFrameTimeout once FrameTimeout has passed (not at its own, later,
// deadline), and the next call dials again and works.
func TestServerLateMidFrame(t *testing.T) {
	for name, send := range map[string]func(nc net.Conn, frame []byte){
		"half, then nothing": func(nc net.Conn, frame []byte) { nc.Write(frame[:len(frame)/2]) },
		"a byte every 50ms": func(nc net.Conn, frame []byte) {
			for _, b := range frame {
				time.Sleep(50 * time.Millisecond)
				if _, err := nc.Write([]byte{b}); err != nil {
					return
				}
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			noLeaks(t)
			s := startScripted(t, func(i int, nc net.Conn, d *baidustd.Decoder) {
				if i > 0 {
					serveEcho(t, nc, d)
					return
				}
				var f baidustd.Frame
				if d.Decode(&f) != nil {
					return
				}
				send(nc, reply(t, &f))
				d.Decode(&f) // until the client gives up on the connection
			})
			// The call's deadline is far off: only the frame timeout can
			// end it in time.
			c := newClient(s.Addr().String(), brpc.FrameTimeout(300*time.Millisecond), brpc.MaxRetry(0), client.Timeout(time.Hour))
			t.Cleanup(func() { c.Close() })

			_, err := echoCall(context.Background(), c, "late")
			require.ErrorIs(t, err, baidustd.ErrFrameTimeout, "broken by the frame timeout, not the call's deadline")
			assert.ErrorIs(t, err, brpc.ErrConnection)
			assert.Contains(t, err.Error(), "frame not whole after 300ms")

			mustEcho(t, c, "whole")
			assert.Equal(t, 2, s.Accepted())
		})
	}
}

// TestIdleIsNotAStall keeps a connection idle, and a call waiting on a slow
// handler, for longer than FrameTimeout: neither is a late frame.
func TestIdleIsNotAStall(t *testing.T) {
	noLeaks(t)
	s := startScripted(t, func(_ int, nc net.Conn, d *baidustd.Decoder) {
		for {
			var f baidustd.Frame
			if d.Decode(&f) != nil {
				return
			}
			time.Sleep(150 * time.Millisecond) // a slow handler
			if _, err := nc.Write(reply(t, &f)); err != nil {
				return
			}
		}
	})
	c := newClient(s.Addr().String(), brpc.FrameTimeout(50*time.Millisecond))
	t.Cleanup(func() { c.Close() })
	mustEcho(t, c, "slow")
	time.Sleep(150 * time.Millisecond) // idle
	mustEcho(t, c, "slow again")
	assert.Equal(t, 1, s.Accepted(), "one connection throughout")
}

// TestRequestTooLarge refuses, before sending, a request whose body is over
// MaxBodySize; the connection and later calls are unaffected.
func TestRequestTooLarge(t *testing.T) {
	noLeaks(t)
	l := startEcho(t)
	c := newClient(l.Addr, brpc.MaxBodySize(4<<10))
	t.Cleanup(func() { c.Close() })
	mustEcho(t, c, "small")
	_, err := echoCall(context.Background(), c, "big", brpc.Attachment(make([]byte, 8<<10)))
	require.ErrorIs(t, err, brpc.ErrRequestTooLarge)
	assert.NotErrorIs(t, err, brpc.ErrConnection)
	assert.Contains(t, err.Error(), "exceeds the limit of 4096")
	mustEcho(t, c, "small again")
	assert.Equal(t, 1, l.Accepted())
}
