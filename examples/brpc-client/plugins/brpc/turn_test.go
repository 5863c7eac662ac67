package brpc_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/plugink/plugink/examples/brpc-client/micro/client"
	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc"
	"github.com/plugink/plugink/examples/brpc-client/proto/echopb"
)

// The tests below cover how calls take turns reading the connection: the
// first call on an idle connection reads for itself, and for the calls
// that come while it waits; the background reader takes over when it
// leaves with calls still waiting.

// TestReaderLeavesWithCallsWaiting holds the first call's answer (it reads
// the connection) until after its deadline, while other calls come and get
// answered: they are answered whether the first call is still reading or
// has left. The first call goes to test.Gate/Stall, which the server does
// not answer before the gate opens, even once the deadline it was sent has
// passed (it would answer ERPCTIMEDOUT, racing the client's own deadline):
// the call can end only by its deadline.
func TestReaderLeavesWithCallsWaiting(t *testing.T) {
	noLeaks(t)
	gate, srv, c := startGate(t)
	mustEcho(t, c, "the connection is up") // so that the held call's deadline is not spent dialing

	held := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		held <- stall(ctx, c, "held")
	}()
	select {
	case <-gate.Entered():
	case err := <-held:
		t.Fatalf("the held call ended before it reached the server: %v", err)
	}
	mustEcho(t, c, "answered while the first call reads")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { mustEcho(t, c, "answered around the first call's deadline") })
	}
	err := <-held
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "waiting for the response: ")
	wg.Wait()
	mustEcho(t, c, "answered after")
	assert.Equal(t, 1, srv.Accepted())
}

// TestCancelWhileReading cancels a call that reads the connection and has
// no deadline: it returns (before any answer could come), and the
// connection goes on serving.
func TestCancelWhileReading(t *testing.T) {
	noLeaks(t)
	gate, srv, c := startGate(t, client.Timeout(0))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		var rsp echopb.EchoResponse
		done <- c.Call(ctx, "test.Gate", "Hold", &echopb.EchoRequest{Message: proto.String("never")}, &rsp)
	}()
	<-gate.Entered()
	waitReading(t) // the call waits in its read
	cancel()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(time.Minute): // it has no deadline: it would wait for ever
		t.Fatal("the canceled call did not return")
	}
	gate.Open() // the late answer finds no call
	mustEcho(t, c, "still serving")
	got, err := hold(c, "through the gate")
	require.NoError(t, err)
	assert.Equal(t, "through the gate", got)
	assert.Equal(t, 1, srv.Accepted())
}

// TestManyCallersTakeTurns makes bursts of calls from varying numbers of
// goroutines, so that the turn passes between lone callers and the
// background reader many times; every call gets its own answer.
func TestManyCallersTakeTurns(t *testing.T) {
	noLeaks(t)
	srv := startEcho(t)
	c := newClient(srv.Addr, brpc.MaxRetry(0))
	t.Cleanup(func() { c.Close() })
	for round := range 40 {
		var wg sync.WaitGroup
		for g := range round % 7 {
			wg.Go(func() {
				for i := range 20 {
					msg := time.Now().String() + string(rune('a'+g)) + string(rune('a'+i))
					got, err := echoCall(context.Background(), c, msg)
					if !assert.NoError(t, err) || !assert.Equal(t, msg, got) {
						return
					}
				}
			})
		}
		wg.Wait()
	}
	assert.Equal(t, 1, srv.Accepted())
}
