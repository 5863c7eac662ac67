package client_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/plugink/plugink/examples/brpc-client/internal/echotest"
	"github.com/plugink/plugink/examples/brpc-client/micro/client"
	"github.com/plugink/plugink/examples/brpc-client/proto/echopb"
	"github.com/plugink/plugink/runtime"
)

func TestKindHasGRPC(t *testing.T) {
	assert.Equal(t, "client", client.Kind.Name())
	assert.Contains(t, client.Kind.Names(), "grpc")
	f, err := client.Kind.Get("grpc")
	require.NoError(t, err)
	c := f()
	assert.Equal(t, "grpc", c.String())
	require.NoError(t, c.Close())

	_, err = client.Kind.Get("thrift")
	assert.ErrorIs(t, err, runtime.ErrUnknownName)
	assert.Contains(t, err.Error(), "available: ")
}

func TestGRPCClientCallsEcho(t *testing.T) {
	addr := echotest.StartGRPC(t)
	c := client.NewGRPCClient(client.Address(addr), client.Timeout(time.Minute))
	defer c.Close()
	for _, msg := range []string{"hello", "", "second call, same connection"} {
		rsp := &echopb.EchoResponse{}
		require.NoError(t, c.Call(context.Background(), "example.EchoService", "Echo",
			&echopb.EchoRequest{Message: proto.String(msg)}, rsp))
		assert.Equal(t, msg, rsp.GetMessage())
	}
}

func TestGRPCClientErrors(t *testing.T) {
	addr := echotest.StartGRPC(t)
	c := client.NewGRPCClient(client.Address(addr))
	defer c.Close()
	req, rsp := &echopb.EchoRequest{Message: proto.String("x")}, &echopb.EchoResponse{}

	err := c.Call(context.Background(), "example.EchoService", "Nope", req, rsp)
	require.Error(t, err)
	assert.Equal(t, codes.Unimplemented, status.Code(err), "the gRPC status survives wrapping")
	assert.Contains(t, err.Error(), "grpc: call example.EchoService.Nope on "+addr)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = c.Call(ctx, "example.EchoService", "Echo", req, rsp)
	assert.Equal(t, codes.Canceled, status.Code(err))

	err = client.NewGRPCClient().Call(context.Background(), "example.EchoService", "Echo", req, rsp)
	assert.ErrorIs(t, err, client.ErrNoAddress)
}

func TestGRPCClientServerDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	// A long timeout: the refused connection, not the deadline, must end
	// the call (Unavailable, not DeadlineExceeded).
	c := client.NewGRPCClient(client.Address(addr), client.Timeout(time.Minute))
	defer c.Close()
	err = c.Call(context.Background(), "example.EchoService", "Echo",
		&echopb.EchoRequest{Message: proto.String("x")}, &echopb.EchoResponse{})
	assert.Equal(t, codes.Unavailable, status.Code(err))
}

func TestCallContext(t *testing.T) {
	o := client.NewOptions(client.Timeout(time.Hour))
	co := client.NewCallOptions()
	ctx, cancel := client.CallContext(context.Background(), &o, &co)
	defer cancel()
	d, ok := ctx.Deadline()
	require.True(t, ok, "the client's timeout bounds a context without deadline")
	assert.WithinDuration(t, time.Now().Add(time.Hour), d, time.Minute)

	parent, cancelParent := context.WithTimeout(context.Background(), time.Minute)
	defer cancelParent()
	pd, _ := parent.Deadline()
	ctx, cancel = client.CallContext(parent, &o, &co)
	defer cancel()
	d, _ = ctx.Deadline()
	assert.Equal(t, pd, d, "the context's own deadline wins over the client's timeout")

	co = client.NewCallOptions(client.WithTimeout(time.Millisecond))
	before := time.Now()
	ctx, cancel = client.CallContext(parent, &o, &co)
	defer cancel()
	after := time.Now()
	d, _ = ctx.Deadline()
	assert.False(t, d.Before(before.Add(time.Millisecond)) || d.After(after.Add(time.Millisecond)),
		"a call timeout bounds the call: deadline %s, called between %s and %s", d, before, after)

	o = client.NewOptions(client.Timeout(0))
	co = client.NewCallOptions()
	ctx, cancel = client.CallContext(context.Background(), &o, &co)
	defer cancel()
	_, ok = ctx.Deadline()
	assert.False(t, ok, "timeout 0 means no bound")
}

// TestCallDeadline checks that CallDeadline is the deadline CallContext
// sets, in each case.
func TestCallDeadline(t *testing.T) {
	soon, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		client time.Duration
		call   time.Duration
		want   time.Duration // from the call; 0: no deadline, or own
		own    bool          // the deadline is the context's own
	}{
		{"the client's timeout", context.Background(), time.Hour, 0, time.Hour, false},
		{"no timeout", context.Background(), 0, 0, 0, false},
		{"the context's deadline wins over the client's timeout", soon, time.Hour, 0, 0, true},
		{"a call timeout", context.Background(), time.Hour, time.Minute, time.Minute, false},
		{"the context's deadline, when sooner than the call timeout", soon, 0, time.Minute, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := client.NewOptions(client.Timeout(tt.client))
			co := client.NewCallOptions(client.WithTimeout(tt.call))
			before := time.Now()
			d, ok := client.CallDeadline(tt.ctx, &o, &co)
			ctx, cancel := client.CallContext(tt.ctx, &o, &co)
			defer cancel()
			after := time.Now()
			cd, cok := ctx.Deadline()
			assert.Equal(t, tt.want != 0 || tt.own, ok)
			assert.Equal(t, ok, cok)
			switch {
			case tt.own:
				own, _ := tt.ctx.Deadline()
				assert.Equal(t, own, d)
				assert.Equal(t, own, cd)
			case ok:
				// Each is the timeout from when it was asked, CallContext's
				// no earlier than CallDeadline's.
				assert.False(t, d.Before(before.Add(tt.want)), "deadline %s, called at %s", d, before)
				assert.False(t, cd.Before(d) || cd.After(after.Add(tt.want)), "CallContext's deadline %s, CallDeadline's %s", cd, d)
			}
		})
	}
}
