// Package echobench measures Echo calls through a [client.Client]: calls
// per second and latency percentiles, with any number of concurrent
// callers. The benchmarks of this module and of the plugink host built on
// it share it, so that their numbers mean the same.
//
//	srv, err := echobench.Start()
//	...
//	c := brpc.NewClient(client.Address(srv.BRPC))
//	echobench.Run(b, c, 64)
package echobench

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/plugink/plugink/examples/brpc-client/internal/brpcserver"
	"github.com/plugink/plugink/examples/brpc-client/internal/echo"
	"github.com/plugink/plugink/examples/brpc-client/micro/client"
	"github.com/plugink/plugink/examples/brpc-client/proto/echopb"
)

// Servers is the echo service served over gRPC and baidu_std on loopback.
type Servers struct {
	GRPC, BRPC string // addresses

	grpc *grpc.Server
	brpc *brpcserver.Server
}

// Start serves the echo service on two free loopback ports.
func Start() (*Servers, error) {
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		gl.Close()
		return nil, err
	}
	s := &Servers{GRPC: gl.Addr().String(), BRPC: bl.Addr().String(), grpc: grpc.NewServer(), brpc: brpcserver.New()}
	echopb.RegisterEchoServiceServer(s.grpc, echo.Service{})
	echopb.RegisterEchoServiceServer(s.brpc, echo.Service{})
	go s.grpc.Serve(gl)
	go s.brpc.Serve(bl)
	return s, nil
}

// Stop stops both servers.
func (s *Servers) Stop() {
	s.grpc.Stop()
	s.brpc.Close()
}

// Message is the text every benchmark call sends: bRPC's echo example
// sends "hello world".
const Message = "hello world"

// Run makes b.N Echo calls through c, spread over callers goroutines, and
// reports calls/s, and the 50th and 99th percentile latency in
// microseconds (p50-µs, p99-µs). ns/op is wall time per call, the inverse
// of throughput.
func Run(b *testing.B, c client.Client, callers int) {
	req := &echopb.EchoRequest{Message: proto.String(Message)}
	var rsp echopb.EchoResponse
	if err := c.Call(context.Background(), "example.EchoService", "Echo", req, &rsp); err != nil {
		b.Fatalf("warm-up call: %v", err)
	}
	lat := make([][]time.Duration, callers)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	b.ResetTimer()
	start := time.Now()
	for g := range callers {
		n := b.N / callers
		if g < b.N%callers {
			n++
		}
		lat[g] = make([]time.Duration, 0, n)
		wg.Go(func() {
			var rsp echopb.EchoResponse
			for range n {
				t0 := time.Now()
				err := c.Call(context.Background(), "example.EchoService", "Echo", req, &rsp)
				lat[g] = append(lat[g], time.Since(t0))
				if err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if first != nil {
		b.Fatal(first)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "calls/s")
	b.ReportMetric(micros(percentile(all, 50)), "p50-µs")
	b.ReportMetric(micros(percentile(all, 99)), "p99-µs")
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[(len(sorted)-1)*p/100]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// Name is the sub-benchmark name for a client and a number of callers,
// such as "brpc/callers=64".
func Name(client string, callers int) string { return fmt.Sprintf("%s/callers=%d", client, callers) }
