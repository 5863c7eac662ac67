// Package echobench measures Echo calls through a [client.Client]: calls
// per second and latency percentiles, with any number of concurrent
// callers. The benchmarks of this module and of the plugink host built on
// it share it, so that their numbers mean the same.
//
//	srv := echotest.StartBRPC(b, echotest.Config{})
//	c := brpc.NewClient(client.Address(srv.Addr))
//	echobench.Run(b, c, 64)
package echobench

import (
	"fmt"
	"testing"
	"time"

	"github.com/plugink/plugink/examples/brpc-client/internal/echoload"
	"github.com/plugink/plugink/examples/brpc-client/micro/client"
)

// Message is the text every benchmark call sends (see echoload.Message).
const Message = echoload.Message

// Run makes b.N Echo calls through c, spread over callers goroutines, and
// reports calls/s, and the 50th and 99th percentile latency in
// microseconds (p50-µs, p99-µs). ns/op is wall time per call, the inverse
// of throughput.
func Run(b *testing.B, c client.Client, callers int) {
	b.ResetTimer()
	r, err := echoload.Run(c, echoload.Config{Calls: b.N, Callers: callers})
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
