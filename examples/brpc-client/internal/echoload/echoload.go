// Package echoload makes Echo calls through a [client.Client] from any
// number of concurrent callers and measures calls per second and latency
// percentiles. The benchmarks (internal/echobench) and the greeter's load
// mode (-n or -d, -c, -request_size) share it, so that their numbers mean
// the same.
package echoload

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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

	// With Config.KeepGoing, Calls and the latencies count the failed
	// calls too. Failed is how many calls failed; Failures are their
	// distinct errors (by text), in the order first seen.
	Failed   int
	Failures []Failure
	// SucceededAfterFailure is how many calls that began after a call had
	// failed succeeded.
	SucceededAfterFailure int
	// Longest is the longest call.
	Longest time.Duration
}

// Failure is one distinct error of failed calls, and how many failed
// with it.
type Failure struct {
	Err   string
	Count int
}

// CallsPerSecond is Calls over Elapsed.
func (r Result) CallsPerSecond() float64 { return float64(r.Calls) / r.Elapsed.Seconds() }

// String formats r as the greeter prints it.
func (r Result) String() string {
	return fmt.Sprintf("calls=%d elapsed=%s calls/s=%.0f p50-µs=%.1f p99-µs=%.1f",
		r.Calls, r.Elapsed.Round(time.Millisecond), r.CallsPerSecond(), micros(r.P50), micros(r.P99))
}

// Config says how much load Run makes.
type Config struct {
	// Calls is how many calls to make in all; when 0, the callers call
	// for Duration instead.
	Calls int
	// Duration is how long to call when Calls is 0.
	Duration time.Duration
	// Callers is how many goroutines call at once (at least 1).
	Callers int
	// RequestSize is the length of each request's message, in bytes, as
	// bRPC's echo client's -request_size; 0 sends [Message].
	RequestSize int
	// KeepGoing makes a failed call count, rather than end the run: the
	// callers go on, and the result counts and lists the failures.
	KeepGoing bool
	// CallTimeout, if set, bounds each call's context (the warm-up's too).
	CallTimeout time.Duration
	// Started, if set, is called once, when the first call after the
	// warm-up has ended, however it ended: calls are under way.
	Started func()
}

// Run makes one warm-up call, then Echo calls through c as cfg says, and
// returns what it measured. Unless cfg.KeepGoing, it stops at the first
// failed call and returns its error; a failed warm-up call always ends it.
func Run(c client.Client, cfg Config) (Result, error) {
	msg := Message
	if cfg.RequestSize > 0 {
		msg = strings.Repeat("r", cfg.RequestSize)
	}
	req := &echopb.EchoRequest{Message: proto.String(msg)}
	call := func(rsp *echopb.EchoResponse) error {
		return c.Call(context.Background(), "example.EchoService", "Echo", req, rsp)
	}
	if cfg.CallTimeout > 0 {
		call = func(rsp *echopb.EchoResponse) error {
			ctx, cancel := context.WithTimeout(context.Background(), cfg.CallTimeout)
			defer cancel()
			return c.Call(ctx, "example.EchoService", "Echo", req, rsp)
		}
	}
	var rsp echopb.EchoResponse
	if err := call(&rsp); err != nil {
		return Result{}, fmt.Errorf("warm-up call: %w", err)
	}
	callers := max(cfg.Callers, 1)
	lat := make([][]time.Duration, callers)
	after := make([]int, callers) // calls succeeded after a failure, by caller
	var (
		wg      sync.WaitGroup
		once    sync.Once
		first   error
		started sync.Once
		fails   failures
	)
	start := time.Now()
	end := start.Add(cfg.Duration)
	for g := range callers {
		quota := cfg.Calls / callers
		if g < cfg.Calls%callers {
			quota++
		}
		lat[g] = make([]time.Duration, 0, latencyRoom(cfg, quota, callers))
		more := func(i int) bool {
			if cfg.Calls > 0 {
				return i < quota
			}
			return time.Now().Before(end)
		}
		wg.Go(func() {
			var rsp echopb.EchoResponse
			n := 0 // calls succeeded after a failure
			defer func() { after[g] = n }()
			for i := 0; more(i); i++ {
				failedBefore := cfg.KeepGoing && fails.any.Load()
				t0 := time.Now()
				err := call(&rsp)
				lat[g] = append(lat[g], time.Since(t0))
				if cfg.Started != nil {
					started.Do(cfg.Started)
				}
				switch {
				case err == nil:
					if failedBefore {
						n++
					}
				case cfg.KeepGoing:
					fails.add(err)
				default:
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
	r := Result{Calls: len(all), Elapsed: elapsed, P50: percentile(all, 50), P99: percentile(all, 99)}
	if len(all) > 0 {
		r.Longest = all[len(all)-1]
	}
	r.Failures = fails.list
	for _, f := range fails.list {
		r.Failed += f.Count
	}
	for _, n := range after {
		r.SucceededAfterFailure += n
	}
	return r, nil
}

// failures collects the errors of failed calls, by text.
type failures struct {
	any  atomic.Bool // a call failed
	mu   sync.Mutex
	list []Failure
	at   map[string]int // index in list
}

func (f *failures) add(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.any.Store(true)
	text := err.Error()
	if i, ok := f.at[text]; ok {
		f.list[i].Count++
		return
	}
	if f.at == nil {
		f.at = map[string]int{}
	}
	f.at[text] = len(f.list)
	f.list = append(f.list, Failure{Err: text, Count: 1})
}

// maxRate is the most calls a second latencyRoom plans for.
const maxRate = 250_000

// latencyRoom is how many latencies one of callers records: its quota of
// calls, or, for a run of fixed duration, as many as it could make at
// maxRate calls a second in all. Making room before the run keeps the
// recording from growing the heap, and calling the collector, meanwhile.
func latencyRoom(cfg Config, quota, callers int) int {
	if cfg.Calls > 0 {
		return quota
	}
	return int(cfg.Duration.Seconds()*maxRate)/callers + 1
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[(len(sorted)-1)*p/100]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
