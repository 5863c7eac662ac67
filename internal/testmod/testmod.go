// Package testmod makes throwaway Go modules for plugink's tests and
// benchmarks: a service with a client kind and plugins, using this checkout
// of plugink through a replace directive.
package testmod

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
)

// Root returns the directory of this checkout of plugink.
func Root(tb testing.TB) string {
	tb.Helper()
	_, file, _, ok := goruntime.Caller(0)
	if !ok {
		tb.Fatal("testmod: no caller information")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Write writes files (path relative to dir -> content) under dir.
func Write(tb testing.TB, dir string, files map[string]string) {
	tb.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// Go runs the go command in dir and returns its combined output, failing
// tb if it fails.
func Go(tb testing.TB, dir string, args ...string) string {
	tb.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ClientKind is the source of example.com/svc/client: a client kind bound
// to a runtime.Kind.
const ClientKind = `package client

import "github.com/plugink/plugink/runtime"

type Option func(*Options)
type Options struct{ Addr string }
type Client interface{ Call(string) string }

var DefaultClients = map[string]func(...Option) Client{}
var Kind = runtime.MustDeclare("client", DefaultClients)
`

// Service writes, in a new temporary directory, the module example.com/svc:
// the client kind, n plugins example.com/svc/plugins/pNN (each with a
// NewClient constructor), and the host package cmd/svc with a manifest
// listing them, then runs go mod tidy and compiles the packages once. It
// returns the host package's directory and the import paths of the kind's
// and the plugins' packages.
func Service(tb testing.TB, n int) (hostDir string, paths []string) {
	tb.Helper()
	dir := tb.TempDir()
	files := map[string]string{
		"go.mod":           "module example.com/svc\n\ngo 1.26\n\nrequire github.com/plugink/plugink v0.0.0\n\nreplace github.com/plugink/plugink => " + Root(tb) + "\n",
		"client/client.go": ClientKind,
		"cmd/svc/main.go":  "package main\n\nfunc main() { _ = initPlugins() }\n",
	}
	var manifest strings.Builder
	manifest.WriteString("kinds:\n  client: example.com/svc/client.Kind\nplugins:\n")
	paths = []string{"example.com/svc/client"}
	for i := range n {
		pkg := fmt.Sprintf("p%02d", i)
		files["plugins/"+pkg+"/"+pkg+".go"] = fmt.Sprintf(`package %s

import "example.com/svc/client"

type c struct{}

func (c) Call(s string) string { return %q + s }

func NewClient(...client.Option) client.Client { return c{} }
`, pkg, pkg)
		fmt.Fprintf(&manifest, "  - name: %s\n    type: client\n    path: example.com/svc/plugins/%s\n    newfunc: NewClient\n", pkg, pkg)
		paths = append(paths, "example.com/svc/plugins/"+pkg)
	}
	files["cmd/svc/plugink.yaml"] = manifest.String()
	Write(tb, dir, files)
	Go(tb, dir, "mod", "tidy")
	// Compile the packages once, so that what a test measures does not
	// include the first build of their export data.
	Go(tb, dir, append([]string{"list", "-deps", "-export", "-f", "{{.Export}}"}, paths...)...)
	return filepath.Join(dir, "cmd", "svc"), paths
}

// SkipIfShort skips the test in -short mode: call it first in every test
// that builds a program or a plugin, so that go test -short runs in
// seconds.
func SkipIfShort(tb testing.TB) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("builds a program or a plugin: skipped with -short")
	}
}
