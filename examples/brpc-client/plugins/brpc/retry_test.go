package brpc_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/plugink/plugink/examples/brpc-client/internal/echotest"
	"github.com/plugink/plugink/examples/brpc-client/micro/client"
	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc"
	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
	"github.com/plugink/plugink/examples/brpc-client/proto/echopb"
)

// hold calls test.Gate/Hold with msg.
func hold(c client.Client, msg string) (string, error) {
	var rsp echopb.EchoResponse
	err := c.Call(context.Background(), "test.Gate", "Hold", &echopb.EchoRequest{Message: proto.String(msg)}, &rsp)
	return rsp.GetMessage(), err
}

// TestServerRestart restarts the server on the same port while 8 calls
// wait for their answers: each is retried on a new connection to the new
// server, and succeeds. The retries that find no server listening yet wait
// 10 ms, 20, 40, ... between dials, and there are enough of them to
// outlast any restart within the calls' (long) deadline, however slow the
// machine.
func TestServerRestart(t *testing.T) {
	noLeaks(t)
	old, srv, c := startGate(t, brpc.MaxRetry(30), client.Timeout(time.Minute))

	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			msg := fmt.Sprint("call ", i)
			got, err := hold(c, msg)
			assert.NoError(t, err)
			assert.Equal(t, msg, got)
		})
	}
	for range n {
		<-old.Entered()
	}
	require.NoError(t, srv.Server.Close()) // the calls in flight lose their connection
	l, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		t.Skipf("port %s was taken meanwhile: %v", srv.Addr, err)
	}
	restarted := echotest.NewGate(t)
	restarted.Open()
	again := echotest.StartBRPC(t, echotest.Config{Listener: l, Register: restarted.Register})
	wg.Wait()
	assert.Equal(t, 1, again.Accepted(), "the retries share one new connection")
}

// closingServer reads one request on each connection and closes it
// without an answer; it counts the connections.
func closingServer(t *testing.T) *scripted {
	return startScripted(t, func(_ int, _ net.Conn, d *baidustd.Decoder) {
		var f baidustd.Frame
		d.Decode(&f)
	})
}

// TestRetriesAreBounded fails every attempt's connection: a call is tried
// 1 + MaxRetry times, each on a new connection, and says how many retries
// it made.
func TestRetriesAreBounded(t *testing.T) {
	for _, tt := range []struct {
		opts    []client.Option
		retries int
	}{
		{nil, brpc.DefaultMaxRetry},
		{[]client.Option{brpc.MaxRetry(1)}, 1},
		{[]client.Option{brpc.MaxRetry(0)}, 0},
		{[]client.Option{brpc.MaxRetry(-5)}, 0},
	} {
		t.Run(fmt.Sprint(tt.retries), func(t *testing.T) {
			noLeaks(t)
			s := closingServer(t)
			c := newClient(s.Addr().String(), tt.opts...)
			t.Cleanup(func() { c.Close() })
			_, err := echoCall(context.Background(), c, "doomed")
			require.ErrorIs(t, err, brpc.ErrConnection)
			assert.Equal(t, 1+tt.retries, s.Accepted())
			if tt.retries > 0 {
				assert.Contains(t, err.Error(), fmt.Sprintf("(after %d retries)", tt.retries))
			}
		})
	}
}

// TestRetriesStayWithinTheDeadline calls a port where no server listens:
// the dials fail, and the retries, which wait between dials, stop at the
// call's deadline.
func TestRetriesStayWithinTheDeadline(t *testing.T) {
	noLeaks(t)
	l := echotest.Listen(t)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	c := newClient(addr, brpc.MaxRetry(100), client.Timeout(300*time.Millisecond))
	t.Cleanup(func() { c.Close() })
	start := time.Now()
	_, err := echoCall(context.Background(), c, "nobody")
	assert.ErrorIs(t, err, syscall.ECONNREFUSED, "the last dial's error")
	assert.ErrorIs(t, err, context.DeadlineExceeded, "why the call stopped")
	// 100 retries would wait 10 ms << 99 in the end: a call that went on
	// past its deadline would not end for years.
	assert.Less(t, time.Since(start), time.Minute)
}

// TestAnswersAreNotRetried checks that an error the server answers with,
// and a call's own deadline, end the call at the first attempt. The call
// whose deadline passes is to test.Gate/Stall, which the server does not
// answer (with ERPCTIMEDOUT, say) before the call has given up.
func TestAnswersAreNotRetried(t *testing.T) {
	noLeaks(t)
	_, srv, c := startGate(t)
	err := c.Call(context.Background(), "example.Nope", "Echo", &echopb.EchoRequest{Message: proto.String("x")}, &echopb.EchoResponse{})
	var e *brpc.Error
	require.True(t, errors.As(err, &e))
	assert.NotContains(t, err.Error(), "retries")

	_, err = echoCall(context.Background(), c, "y", client.WithTimeout(time.Nanosecond))
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = stall(ctx, c, "z")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotContains(t, err.Error(), "retries")
	assert.Equal(t, 1, srv.Accepted())
}
