package gen_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/internal/testmod"
)

// BenchmarkGenerate compares gen.Generate (parse, type-check from export
// data, emit) with `go list -deps -export` over the same packages, the
// floor of any type-check that uses export data. Both run with a warm
// build cache, as they do on every `go generate` after the first. Each op
// runs both, in alternating order, so that a change in the machine's load
// hits both alike; it reports each one's mean time and their ratio.
func BenchmarkGenerate(b *testing.B) {
	// The example's greeter, in this repository's workspace: its kind
	// and its brpc plugin (gRPC and protobuf behind them).
	b.Run("example", func(b *testing.B) {
		const ex = "github.com/plugink/plugink/examples/brpc-client"
		hostDir, err := filepath.Abs("../examples/brpc-client/cmd/greeter")
		if err != nil {
			b.Fatal(err)
		}
		compareGenerate(b, hostDir, []string{ex + "/micro/client", ex + "/plugins/brpc"})
	})
	for _, n := range []int{1, 50} {
		hostDir, paths := testmod.Service(b, n)
		b.Run(fmt.Sprintf("plugins=%d", n), func(b *testing.B) { compareGenerate(b, hostDir, paths) })
	}
}

// compareGenerate times gen.Generate in hostDir against go list -deps
// -export of paths, alternating which runs first.
func compareGenerate(b *testing.B, hostDir string, paths []string) {
	var genTime, listTime time.Duration
	gen := func() {
		start := time.Now()
		if _, _, err := gen.Generate(context.Background(), gen.Options{Dir: hostDir}); err != nil {
			b.Fatal(err)
		}
		genTime += time.Since(start)
	}
	list := func() {
		start := time.Now()
		cmd := exec.Command("go", append([]string{"list", "-deps", "-export", "-f", "{{.Export}}"}, paths...)...)
		cmd.Dir = hostDir
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("go list: %v\n%s", err, out)
		}
		listTime += time.Since(start)
	}
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			gen()
			list()
		} else {
			list()
			gen()
		}
		i++
	}
	b.ReportMetric(float64(genTime)/1e6/float64(i), "gen-ms")
	b.ReportMetric(float64(listTime)/1e6/float64(i), "golist-ms")
	b.ReportMetric(float64(genTime)/float64(listTime), "gen/golist")
}
