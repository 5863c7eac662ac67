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
	"fmt"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/plugink/plugink/examples/brpc-client/internal/brpcserver"
	"github.com/plugink/plugink/examples/brpc-client/internal/echo"
	"github.com/plugink/plugink/examples/brpc-client/internal/echoload"
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

// Message is the text every benchmark call sends (see echoload.Message).
const Message = echoload.Message

// Run makes b.N Echo calls through c, spread over callers goroutines, and
// reports calls/s, and the 50th and 99th percentile latency in
// microseconds (p50-µs, p99-µs). ns/op is wall time per call, the inverse
// of throughput.
func Run(b *testing.B, c client.Client, callers int) {
	b.ResetTimer()
	r, err := echoload.Run(c, b.N, callers)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	Report(b, r)
}

// Report reports r's calls/s, p50-µs and p99-µs on b.
func Report(b *testing.B, r echoload.Result) {
	b.ReportMetric(r.CallsPerSecond(), "calls/s")
	b.ReportMetric(float64(r.P50)/float64(time.Microsecond), "p50-µs")
	b.ReportMetric(float64(r.P99)/float64(time.Microsecond), "p99-µs")
}

// Name is the sub-benchmark name for a client and a number of callers,
// such as "brpc/callers=64".
func Name(client string, callers int) string { return fmt.Sprintf("%s/callers=%d", client, callers) }
