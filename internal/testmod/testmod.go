// Package testmod makes throwaway Go modules for plugink's tests and
// benchmarks: a service with a client kind and plugins, using this checkout
// of plugink through a replace directive.
package testmod

import (
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
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

// Publish lays out the module in dir as version v in the file proxy
// directory proxy: its list, .info, .mod and .zip files.
func Publish(proxy string, v module.Version, dir string) error {
	escaped, err := module.EscapePath(v.Path)
	if err != nil {
		return err
	}
	at := filepath.Join(proxy, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		return err
	}
	goMod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return err
	}
	info := fmt.Sprintf("{\"Version\":%q,\"Time\":\"2026-01-01T00:00:00Z\"}\n", v.Version)
	for name, content := range map[string][]byte{"list": []byte(v.Version + "\n"), v.Version + ".info": []byte(info), v.Version + ".mod": goMod} {
		if err := os.WriteFile(filepath.Join(at, name), content, 0o644); err != nil {
			return err
		}
	}
	zf, err := os.Create(filepath.Join(at, v.Version+".zip"))
	if err != nil {
		return err
	}
	if err := modzip.CreateFromDir(zf, v, dir); err != nil {
		zf.Close()
		return fmt.Errorf("zip %s: %w", v, err)
	}
	return zf.Close()
}

// FileURL returns the file:// URL of the directory dir.
func FileURL(dir string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String()
}

// CopyDir copies a directory tree, making the copies writable (the module
// cache is read-only).
func CopyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}
