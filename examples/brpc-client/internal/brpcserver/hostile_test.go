package brpcserver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/plugink/plugink/examples/brpc-client/internal/brpcserver"
	"github.com/plugink/plugink/examples/brpc-client/internal/echotest"
	"github.com/plugink/plugink/examples/brpc-client/micro/client"
	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc"
	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
	"github.com/plugink/plugink/examples/brpc-client/proto/echopb"
)

// echoFrame returns an Echo request frame for msg with correlation id id.
func echoFrame(id int64, msg string, ct baidustd.CompressType, att []byte) []byte {
	payload, _ := proto.Marshal(&echopb.EchoRequest{Message: proto.String(msg)})
	if ct != baidustd.CompressNone {
		payload, _ = baidustd.AppendCompressed(nil, ct, payload)
	}
	return baidustd.AppendFrame(nil, &baidustd.Meta{
		Request:       &baidustd.RequestMeta{ServiceName: "example.EchoService", MethodName: "Echo"},
		CompressType:  ct,
		CorrelationID: id,
	}, payload, att)
}

// dial opens a raw connection to addr.
func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	return nc.(*net.TCPConn)
}

// readAnswers decodes frames from nc until it ends, and returns them with
// the error that ended the stream.
func readAnswers(nc net.Conn) ([]baidustd.Frame, error) {
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	d := baidustd.NewDecoder(nc, 0)
	var frames []baidustd.Frame
	for {
		var f baidustd.Frame
		if err := d.Decode(&f); err != nil {
			return frames, err
		}
		frames = append(frames, f)
	}
}

// TestHalfCloseDrainsAnswers sends N requests, then shuts down its write
// side: every request read gets its answer before the server closes.
func TestHalfCloseDrainsAnswers(t *testing.T) {
	_, addr := start(t)
	for _, n := range []int{1, 10, 100, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			nc := dial(t, addr)
			var batch []byte
			for i := range n {
				batch = append(batch, echoFrame(int64(i), fmt.Sprint(i), baidustd.CompressNone, nil)...)
			}
			_, err := nc.Write(batch)
			require.NoError(t, err)
			require.NoError(t, nc.CloseWrite())
			frames, err := readAnswers(nc)
			assert.Equal(t, io.EOF, err, "the stream ends cleanly, between frames")
			require.Equal(t, n, len(frames))
			seen := map[int64]bool{}
			for _, f := range frames {
				require.Zero(t, f.Meta.Response.ErrorCode)
				seen[f.Meta.CorrelationID] = true
			}
			assert.Len(t, seen, n)
		})
	}
}

// syncLog is a log.Logger's output that the test can read, and wait on.
type syncLog struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // receives after a write, if nobody took the last
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changed == nil {
		l.changed = make(chan struct{}, 1)
	}
	select {
	case l.changed <- struct{}{}:
	default:
	}
	return l.b.Write(p)
}

// waitFor waits until the log holds s, failing t after a minute.
func (l *syncLog) waitFor(t *testing.T, s string) {
	t.Helper()
	l.mu.Lock()
	if l.changed == nil {
		l.changed = make(chan struct{}, 1)
	}
	changed := l.changed
	l.mu.Unlock()
	timeout := time.After(time.Minute)
	for !strings.Contains(l.String(), s) {
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("the log never said %q:\n%s", s, l.String())
		}
	}
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestFullWriteQueueAnswersOvercrowded pipelines 300 requests whose 64 KiB
// answers it reads only after sending them all, and after the server has
// found its 1 MiB queue full: the answers that do not fit are EOVERCROWDED
// errors, not silence, and the server says so in its log, one line a
// second at most.
func TestFullWriteQueueAnswersOvercrowded(t *testing.T) {
	began := time.Now()
	var logs syncLog
	_, addr := start(t, brpcserver.MaxQueued(1<<20), brpcserver.ErrorLog(log.New(&logs, "", 0)))
	nc := dial(t, addr)
	att := make([]byte, 64<<10)
	var batch []byte
	for i := range 300 {
		batch = append(batch, echoFrame(int64(i), "x", baidustd.CompressNone, att)...)
	}
	_, err := nc.Write(batch)
	require.NoError(t, err)
	logs.waitFor(t, "EOVERCROWDED") // the queue is full, and answers are refused
	require.NoError(t, nc.CloseWrite())
	frames, err := readAnswers(nc)
	assert.Equal(t, io.EOF, err)
	require.Equal(t, 300, len(frames), "every request is answered")
	codes := map[int32]int{}
	for _, f := range frames {
		codes[f.Meta.Response.ErrorCode]++
		if c := f.Meta.Response.ErrorCode; c != 0 {
			assert.Contains(t, f.Meta.Response.ErrorText, "[E1011]Connection to "+nc.LocalAddr().String()+" is overcrowded")
		}
	}
	t.Logf("answers by error code: %v", codes)
	assert.Positive(t, codes[int32(baidustd.EOVERCROWDED)])
	assert.Positive(t, codes[0])
	assert.Contains(t, logs.String(), "EOVERCROWDED")
	// Hundreds of refused answers, but one line for each second at most
	// (the first, then one a second).
	lines, most := strings.Count(logs.String(), "\n"), 1+int(time.Since(began)/time.Second)
	assert.LessOrEqual(t, lines, most, "rate-limited:\n%s", logs.String())
}

// closedByPeer reports whether err is how a read ends when the peer has
// closed the connection: a clean end (EOF), or a reset, which the peer's
// system sends instead of a FIN when it closes with bytes unread (the
// trickle below may still be writing), or EPIPE when that reset comes
// after the FIN.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// TestFrameTimeout holds a connection with half a frame, and another that
// sends a frame a byte at a time (about half a second in all): the server
// closes both once its frame timeout of 200 ms passes, long before its
// default of 10 s. An idle connection stays open.
func TestFrameTimeout(t *testing.T) {
	_, addr := start(t, brpcserver.FrameTimeout(200*time.Millisecond))
	half, trickle, idle := dial(t, addr), dial(t, addr), dial(t, addr)
	frame := echoFrame(1, "hello", baidustd.CompressNone, nil)
	sent := time.Now() // neither frame has begun before
	_, err := half.Write(frame[:len(frame)/2])
	require.NoError(t, err)
	go func() {
		for _, b := range frame {
			if _, err := trickle.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	for name, nc := range map[string]net.Conn{"half": half, "trickle": trickle} {
		_, err := readAnswers(nc)
		assert.True(t, closedByPeer(err), "%s: the server closes the connection: %v", name, err)
		assert.Less(t, time.Since(sent), brpcserver.DefaultFrameTimeout, "%s: closed by the frame timeout set, not the default", name)
	}
	time.Sleep(300 * time.Millisecond) // idle for longer than the frame timeout
	_, err = idle.Write(frame)
	require.NoError(t, err)
	require.NoError(t, idle.CloseWrite())
	frames, err := readAnswers(idle)
	assert.Equal(t, io.EOF, err)
	assert.Equal(t, 1, len(frames), "an idle connection is not timed out")
}

// TestDecompressBudget holds gzipped requests of 800 KiB each in a handler:
// a connection's budget of 1 MiB takes one, the server's budget of 1.5 MiB
// one more on another connection; the others are EOVERCROWDED at once.
func TestDecompressBudget(t *testing.T) {
	gate := echotest.NewGate(t)
	srv := echotest.StartBRPC(t, echotest.Config{
		Options:  []brpcserver.Option{brpcserver.DecompressBudget(1500 << 10), brpcserver.ConnDecompressBudget(1 << 20)},
		Register: gate.Register,
	})
	hold := func(id int64) []byte {
		payload, _ := proto.Marshal(&echopb.EchoRequest{Message: proto.String(strings.Repeat("z", 800<<10))})
		payload, _ = baidustd.AppendCompressed(nil, baidustd.CompressGzip, payload)
		return baidustd.AppendFrame(nil, &baidustd.Meta{
			Request:      &baidustd.RequestMeta{ServiceName: "test.Gate", MethodName: "Hold"},
			CompressType: baidustd.CompressGzip, CorrelationID: id,
		}, payload, nil)
	}
	a, b := dial(t, srv.Addr), dial(t, srv.Addr)
	_, err := a.Write(hold(1))
	require.NoError(t, err)
	<-gate.Entered()
	_, err = a.Write(hold(2))
	require.NoError(t, err)
	frames := readN(t, a, 1)
	assert.Equal(t, int64(2), frames[0].Meta.CorrelationID)
	assert.Equal(t, int32(baidustd.EOVERCROWDED), frames[0].Meta.Response.ErrorCode, "the connection's budget")
	assert.Contains(t, frames[0].Meta.Response.ErrorText, "of a 1048576-byte budget")

	_, err = b.Write(hold(3))
	require.NoError(t, err)
	frames = readN(t, b, 1)
	assert.Equal(t, int32(baidustd.EOVERCROWDED), frames[0].Meta.Response.ErrorCode, "the server's budget")
	assert.Contains(t, frames[0].Meta.Response.ErrorText, "of a 1536000-byte budget")

	gate.Open()
	frames = readN(t, a, 1)
	assert.Equal(t, int64(1), frames[0].Meta.CorrelationID)
	assert.Zero(t, frames[0].Meta.Response.ErrorCode)
	_, err = b.Write(hold(4))
	require.NoError(t, err)
	frames = readN(t, b, 1)
	assert.Zero(t, frames[0].Meta.Response.ErrorCode, "the budget is back once the request is answered")
}

// readN reads n answers from nc.
func readN(t *testing.T, nc net.Conn, n int) []baidustd.Frame {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	d := baidustd.NewDecoder(nc, 0)
	frames := make([]baidustd.Frame, n)
	for i := range frames {
		require.NoError(t, d.Decode(&frames[i]))
	}
	return frames
}

// TestLimitsAtExtremes serves with each size limit at 0, negative and
// math.MaxInt: gzipped and large calls work.
func TestLimitsAtExtremes(t *testing.T) {
	for _, v := range []int{0, -1, math.MinInt, math.MaxInt} {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			_, addr := start(t, brpcserver.MaxBodySize(v), brpcserver.MaxQueued(v),
				brpcserver.DecompressBudget(v), brpcserver.ConnDecompressBudget(v))
			c := brpc.NewClient(client.Address(addr), client.Timeout(time.Minute), brpc.Compress(baidustd.CompressGzip))
			defer c.Close()
			for _, msg := range []string{"small", strings.Repeat("large ", 200<<10)} {
				var rsp echopb.EchoResponse
				require.NoError(t, c.Call(context.Background(), "example.EchoService", "Echo", &echopb.EchoRequest{Message: proto.String(msg)}, &rsp))
				assert.Equal(t, msg, rsp.GetMessage())
			}
		})
	}
}

// TestPeerTextInAnswers asks for a service whose name holds terminal
// escapes: the answer names it without them.
func TestPeerTextInAnswers(t *testing.T) {
	_, addr := start(t)
	c := brpc.NewClient(client.Address(addr), client.Timeout(time.Minute))
	defer c.Close()
	err := c.Call(context.Background(), "evil\x1b[2J.Svc", "Echo\r\n", &echopb.EchoRequest{Message: proto.String("x")}, &echopb.EchoResponse{})
	var e *brpc.Error
	require.True(t, errors.As(err, &e), "got %v", err)
	assert.Equal(t, "["+addr+"][E1002]Fail to find method=evil[2J.Svc/Echo", e.Text)
}
