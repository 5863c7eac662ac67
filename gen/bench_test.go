package gen_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
	return filepath.Join(dir, "cmd", "svc"), paths
}

// BenchmarkGenerate compares gen.Generate (parse, type-check from export
// data, emit) with `go list -deps -export` over the same packages, the
// floor of any type-check that uses export data. Both run with a warm
// build cache, as they do on every `go generate` after the first.
func BenchmarkGenerate(b *testing.B) {
	for _, n := range []int{1, 50} {
		hostDir, paths := serviceModule(b, n)
		b.Run(fmt.Sprintf("plugins=%d/gen", n), func(b *testing.B) {
			for b.Loop() {
				if _, _, err := gen.Generate(context.Background(), gen.Options{Dir: hostDir}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("plugins=%d/go-list-export", n), func(b *testing.B) {
			for b.Loop() {
				cmd := exec.Command("go", append([]string{"list", "-deps", "-export", "-f", "{{.Export}}"}, paths...)...)
				cmd.Dir = hostDir
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("go list: %v\n%s", err, out)
				}
			}
		})
	}
}
