// Package echoload makes Echo calls through a [client.Client] from any
// number of concurrent callers and measures calls per second and latency
// percentiles. The benchmarks (internal/echobench) and the greeter's load
// mode (-n, -c) share it, so that their numbers mean the same.
package echoload

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/plugink/plugink/examples/brpc-client/micro/client"
	"github.com/plugink/plugink/examples/brpc-client/proto/echopb"
)

// Message is the text every measured call sends: bRPC's echo example
// sends "hello world".
const Message = "hello world"

// Result is what a run measured.
type Result struct {
	// Calls is how many calls were made; Elapsed the wall time they took.
	Calls   int
	Elapsed time.Duration
	// P50 and P99 are latency percentiles of single calls.
	P50, P99 time.Duration
}

// CallsPerSecond is Calls over Elapsed.
func (r Result) CallsPerSecond() float64 { return float64(r.Calls) / r.Elapsed.Seconds() }

// String formats r as the greeter prints it.
func (r Result) String() string {
	return fmt.Sprintf("calls=%d elapsed=%s calls/s=%.0f p50-µs=%.1f p99-µs=%.1f",
		r.Calls, r.Elapsed.Round(time.Millisecond), r.CallsPerSecond(), micros(r.P50), micros(r.P99))
}

// Run makes one warm-up call, then n Echo calls through c spread over
// callers goroutines, and returns what it measured. It stops at the first
// failed call and returns its error.
func Run(c client.Client, n, callers int) (Result, error) {
	req := &echopb.EchoRequest{Message: proto.String(Message)}
	var rsp echopb.EchoResponse
	if err := c.Call(context.Background(), "example.EchoService", "Echo", req, &rsp); err != nil {
		return Result{}, fmt.Errorf("warm-up call: %w", err)
	}
	callers = max(callers, 1)
	lat := make([][]time.Duration, callers)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	start := time.Now()
	for g := range callers {
		k := n / callers
		if g < n%callers {
			k++
		}
		lat[g] = make([]time.Duration, 0, k)
		wg.Go(func() {
			var rsp echopb.EchoResponse
			for range k {
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
	if first != nil {
		return Result{}, first
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	return Result{Calls: len(all), Elapsed: elapsed, P50: percentile(all, 50), P99: percentile(all, 99)}, nil
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[(len(sorted)-1)*p/100]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
