package gen_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plugink/plugink/gen"
)

// serviceModule writes a throwaway module with a client kind, n plugin
// packages and a host package with its manifest, and returns the host's
// directory and the import paths the manifest names.
func serviceModule(b *testing.B, n int) (string, []string) {
	b.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	write := func(name, content string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	write("go.mod", "module example.com/svc\n\ngo 1.26\n\nrequire github.com/plugink/plugink v0.0.0\n\nreplace github.com/plugink/plugink => "+root+"\n")
	write("client/client.go", `package client

import "github.com/plugink/plugink/runtime"

type Option func(*Options)
type Options struct{ Addr string }
type Client interface{ Call(string) string }

var DefaultClients = map[string]func(...Option) Client{}
var Kind = runtime.MustDeclare("client", DefaultClients)
`)
	var manifest strings.Builder
	manifest.WriteString("kinds:\n  client: example.com/svc/client.Kind\nplugins:\n")
	paths := []string{"example.com/svc/client"}
	for i := range n {
		pkg := fmt.Sprintf("p%02d", i)
		write("plugins/"+pkg+"/"+pkg+".go", fmt.Sprintf(`package %s

import "example.com/svc/client"

type c struct{}

func (c) Call(s string) string { return %q + s }

func NewClient(...client.Option) client.Client { return c{} }
`, pkg, pkg))
		fmt.Fprintf(&manifest, "  - name: %s\n    type: client\n    path: example.com/svc/plugins/%s\n    newfunc: NewClient\n", pkg, pkg)
		paths = append(paths, "example.com/svc/plugins/"+pkg)
	}
	write("cmd/svc/main.go", "package main\n\nfunc main() { _ = initPlugins() }\n")
	write("cmd/svc/plugink.yaml", manifest.String())
	tidy := exec.Command("go", "mod", "tidy")
	tidy.Dir = dir
	if out, err := tidy.CombinedOutput(); err != nil {
		b.Fatalf("go mod tidy: %v\n%s", err, out)
	}
	// Compile the packages once, so that neither side of the comparison
	// pays for the first build of their export data.
	warm := exec.Command("go", append([]string{"list", "-deps", "-export", "-f", "{{.Export}}"}, paths...)...)
	warm.Dir = dir
	if out, err := warm.CombinedOutput(); err != nil {
		b.Fatalf("go list -export: %v\n%s", err, out)
	}
	return filepath.Join(dir, "cmd", "svc"), paths
}

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
		hostDir, paths := serviceModule(b, n)
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
