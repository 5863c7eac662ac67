package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
)

var loadLine = regexp.MustCompile(`calls/s=(\S+) p50-µs=(\S+) p99-µs=(\S+)`)

// BenchmarkModes compares, in one run, Echo calls through the gRPC client,
// the brpc plugin compiled in (static greeter), the brpc plugin loaded
// from a .so (dynamic greeter) and the brpc plugin running as a child
// process (process greeter), with 1 and 64 concurrent callers, against an
// echo server in this process. Each op is one call; the greeter measures
// its own calls (neither its start-up nor the plugin process's, which the
// client's construction starts, is counted) and reports calls/s and
// latency percentiles, which this benchmark reports as its metrics.
//
//	go test -run '^$' -bench Modes -benchtime 20000x -count 3 ./e2e
func BenchmarkModes(b *testing.B) {
	if fixtures.err != nil {
		b.Fatal(fixtures.err)
	}
	s := startServer(b)
	modes := []struct {
		name, bin string
		env       []string
		client    string
	}{
		{"grpc", fixtures.static, nil, "grpc"},
		{"brpc-static", fixtures.static, nil, "brpc"},
		{"brpc-dynamic", fixtures.dynamic, []string{"MICRO_PLUGIN=" + fixtures.plugin}, "brpc"},
		{"brpc-process", fixtures.process, []string{"PLUGINK_DIR=" + processDir()}, "brpc"},
	}
	for _, callers := range []int{1, 64} {
		for _, m := range modes {
			b.Run(fmt.Sprintf("%s/callers=%d", m.name, callers), func(b *testing.B) {
				out, err := greet(b, s, m.bin, b.TempDir(), m.env, "--client="+m.client,
					"-n", strconv.Itoa(b.N), "-c", strconv.Itoa(callers))
				if err != nil {
					b.Fatalf("%v\n%s", err, out)
				}
				sm := loadLine.FindStringSubmatch(out)
				if sm == nil {
					b.Fatalf("no measurements in greeter's output:\n%s", out)
				}
				for i, unit := range []string{"calls/s", "p50-µs", "p99-µs"} {
					v, err := strconv.ParseFloat(sm[i+1], 64)
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(v, unit)
				}
			})
		}
	}
}
