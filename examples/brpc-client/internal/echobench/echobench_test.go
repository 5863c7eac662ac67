package echobench_test

import (
	"flag"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/examples/brpc-client/internal/echobench"
	"github.com/plugink/plugink/examples/brpc-client/internal/echotest"
	"github.com/plugink/plugink/examples/brpc-client/micro/client"
	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc"
)

// BenchmarkEcho compares the built-in gRPC client with the brpc plugin,
// linked in, on loopback, with 1 and 64 concurrent callers.
func BenchmarkEcho(b *testing.B) {
	grpcAddr, brpcAddr := echotest.StartGRPC(b), echotest.StartBRPC(b, echotest.Config{}).Addr
	clients := []struct {
		name string
		new  func(...client.Option) client.Client
		addr string
	}{
		{"grpc", client.NewGRPCClient, grpcAddr},
		{"brpc", brpc.NewClient, brpcAddr},
	}
	for _, callers := range []int{1, 64} {
		for _, cl := range clients {
			b.Run(echobench.Name(cl.name, callers), func(b *testing.B) {
				c := cl.new(client.Address(cl.addr))
				defer c.Close()
				echobench.Run(b, c, callers)
			})
		}
	}
}

// TestRun checks the harness itself on a few calls, so that a broken
// benchmark shows up in `go test`.
func TestRun(t *testing.T) {
	srv := echotest.StartBRPC(t, echotest.Config{})
	bt := flag.Lookup("test.benchtime")
	old := bt.Value.String()
	require.NoError(t, bt.Value.Set("200x"))
	defer bt.Value.Set(old)
	res := testing.Benchmark(func(b *testing.B) {
		c := brpc.NewClient(client.Address(srv.Addr))
		defer c.Close()
		echobench.Run(b, c, 4)
	})
	if res.N == 0 || res.Extra["calls/s"] <= 0 || res.Extra["p99-µs"] < res.Extra["p50-µs"] {
		t.Fatalf("harness reported %v", res)
	}
}

// BenchmarkEchoBRPCServer measures the brpc plugin against the server
// $PLUGINK_BRPC_ECHO names, such as Apache bRPC's own echo server (see
// scripts/vs-brpc.sh); it is skipped when the variable is not set. Its
// allocations are the client's alone, and with -cpuprofile it shows where
// a call's time goes on the client's side.
//
//	PLUGINK_BRPC_ECHO=127.0.0.1:8002 go test -run '^$' -bench EchoBRPCServer -benchmem -cpuprofile cpu.out ./internal/echobench
func BenchmarkEchoBRPCServer(b *testing.B) {
	addr := os.Getenv("PLUGINK_BRPC_ECHO")
	if addr == "" {
		b.Skip("set PLUGINK_BRPC_ECHO=host:port of a baidu_std echo server")
	}
	for _, callers := range []int{1, 64} {
		b.Run(echobench.Name("brpc", callers), func(b *testing.B) {
			c := brpc.NewClient(client.Address(addr))
			defer c.Close()
			echobench.Run(b, c, callers)
		})
	}
}
