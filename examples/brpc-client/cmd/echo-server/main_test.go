package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/plugink/plugink/examples/brpc-client/micro/client"
	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc"
	"github.com/plugink/plugink/examples/brpc-client/proto/echopb"
)

// TestServesBothProtocols starts the server as main does, reads the
// addresses it prints, and calls each port with its client.
func TestServesBothProtocols(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, pw, "127.0.0.1:0", "127.0.0.1:0") }()

	addrs := map[string]string{}
	lines := bufio.NewScanner(pr)
	for len(addrs) < 2 && lines.Scan() {
		name, addr, ok := strings.Cut(lines.Text(), " ")
		require.True(t, ok, "line %q", lines.Text())
		addrs[name] = addr
	}
	go io.Copy(io.Discard, pr)

	for name, newClient := range map[string]func(...client.Option) client.Client{
		"grpc": client.NewGRPCClient,
		"brpc": brpc.NewClient,
	} {
		t.Run(name, func(t *testing.T) {
			c := newClient(client.Address(addrs[name]), client.Timeout(time.Minute))
			defer c.Close()
			var rsp echopb.EchoResponse
			require.NoError(t, c.Call(context.Background(), "example.EchoService", "Echo",
				&echopb.EchoRequest{Message: proto.String("hello " + name)}, &rsp))
			assert.Equal(t, "hello "+name, rsp.GetMessage())
		})
	}
	cancel()
	require.NoError(t, <-done, "run stops cleanly")
	pw.Close()
}
