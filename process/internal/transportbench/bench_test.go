package transportbench

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkEcho: one Echo of 64 bytes, from 1 caller and from 64 callers
// at once on one plugin client. ns/op is wall time over calls (so, with
// 64 callers, the inverse of throughput, not a call's latency); calls/s is
// its inverse; p50-µs and p99-µs are the latencies of single calls.
func BenchmarkEcho(b *testing.B) { benchEcho(b, 64) }

// BenchmarkEcho4KiB is BenchmarkEcho with 4 KiB messages.
func BenchmarkEcho4KiB(b *testing.B) { benchEcho(b, 4<<10) }

func benchEcho(b *testing.B, size int) {
	for _, transport := range transports {
		b.Run(transport, func(b *testing.B) {
			for _, callers := range []int{1, 64} {
				b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
					echoCalls(b, shared(b, transport), callers, size)
				})
			}
		})
	}
}

// echoCalls makes b.N calls of e.Echo with a message of size bytes from
// callers goroutines, and reports the calls' rate and latencies.
func echoCalls(b *testing.B, e Echoer, callers, size int) {
	msg := bytes.Repeat([]byte{'e'}, size)
	ctx := context.Background()
	// Warm up: open whatever the transport opens lazily, grow its buffers.
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for range 4 {
				if _, err := e.Echo(ctx, msg); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}

	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	for range callers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(lat) {
					return
				}
				var ok bool
				if lat[i], ok = timedEcho(ctx, b, e, msg); !ok {
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()

	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "calls/s")
	}
	slices.Sort(lat)
	b.ReportMetric(micros(percentile(lat, 50)), "p50-µs")
	b.ReportMetric(micros(percentile(lat, 99)), "p99-µs")
}

// percentile returns the p-th percentile (nearest rank) of sorted.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (len(sorted)*p + 99) / 100 // ceil(n·p/100)
	return sorted[max(rank, 1)-1]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// BenchmarkStart: a plugin's start-up, from plugin.NewClient to the first
// successful Echo (the process started, the handshake read, the
// connection made, the plugin dispensed, one call). Killing it is not
// timed. BenchmarkStart/generated is the same for the generated glue (see
// benchStartGlue), whose plugin it builds first. Each iteration costs
// milliseconds: run it with -benchtime 100x or so.
func BenchmarkStart(b *testing.B) {
	for _, transport := range transports {
		b.Run(transport, func(b *testing.B) {
			msg := []byte("hello")
			for i := 0; i < b.N; i++ {
				c, e, err := start(transport)
				if err != nil {
					b.Fatal(err)
				}
				out, err := e.Echo(context.Background(), msg)
				b.StopTimer()
				c.Kill()
				if err != nil {
					b.Fatal(err)
				}
				if !bytes.Equal(out, msg) {
					b.Fatalf("first Echo returned %q", out)
				}
				b.StartTimer()
			}
		})
	}
	b.Run("generated", benchStartGlue)
}

// timedEcho echoes msg through e and returns how long it took; false, with
// the benchmark failed, if the call failed or msg did not come back whole.
func timedEcho(ctx context.Context, b *testing.B, e Echoer, msg []byte) (time.Duration, bool) {
	t0 := time.Now()
	out, err := e.Echo(ctx, msg)
	d := time.Since(t0)
	if err != nil {
		b.Error(err)
		return d, false
	}
	if len(out) != len(msg) {
		b.Errorf("Echo of %d bytes returned %d", len(msg), len(out))
		return d, false
	}
	return d, true
}
