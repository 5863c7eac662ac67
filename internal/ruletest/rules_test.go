// Package ruletest checks that every part of plugink applies the same name
// rules: the runtime, the manifest parser, the emitters and loader.Build
// give the same verdict on the same name.
package ruletest

import (
	"encoding/json"
	"errors"
	"fmt"
	"go/token"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/module"

	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/gen/emit"
	"github.com/plugink/plugink/internal/pluginbuild"
	"github.com/plugink/plugink/loader"
	"github.com/plugink/plugink/runtime"
)

// pluginNames are plugin names and whether the rule accepts them.
var pluginNames = map[string]bool{
	"brpc": true, "grpc2": true, "2fast": true, "a": true, "a_b": true, "a-b": true, "v1.2": true,
	"etcd.v3_x-y": true, strings.Repeat("x", 64): true,
	"": false, " brpc ": false, "brpc\n": false, "br\x00pc": false, "\xff": false, "x, y": false,
	"Brpc": false, "bRPC": false, "_brpc": false, "-brpc": false, ".brpc": false, "a/b": false,
	"a b": false, "é": false, "brpc;rm": false, strings.Repeat("x", 65): false, strings.Repeat("x", 1<<20): false,
	"a:b": false, "a*": false, "a\\b": false, "a\tb": false,
	"brpc.": false, "v1.": false, "con": false, "nul.v2": false, "com1": false, "lpt9.x": false,
	"console": true, "com10": true, "com0": true, "x.con": true, "a.b.c": true,
}

// kindNames are kind names and whether the rule accepts them.
var kindNames = map[string]bool{
	"client": true, "server-transport": true, "a": true, "a2": true, strings.Repeat("k", 64): true,
	"": false, "Client": false, "client_a": false, "2client": false, "-client": false, "a b": false,
	"client\n": false, "clïent": false, strings.Repeat("k", 65): false, "a.b": false, "a/b": false,
	"aux": false, "prn": false, "lpt1": false, "auxiliary": true, "con-x": true,
}

// importPaths are import paths and whether the rule accepts them.
var importPaths = map[string]bool{
	"example.com/plugins/brpc": true, "example.com/plugins/brpc/v2": true, "gopkg.in/yaml.v3": true,
	"example.com/x~y+z/_q": true, "a": true, "example.com/.hidden": true, "example.com/x-": true,
	"": false, "/abs": false, "a//b": false, "a/": false, "-a": false, "a/./b": false, "a/../b": false,
	"a/b.": false, "a b": false, "a\\b": false, "é/x": false, "a/con": false, "a/COM1.x": false,
	"a/FOO~1": false, "\xff": false, "a/b\n": false, "a:b": false, strings.Repeat("a", 1025): false,
}

func TestPluginNameRuleEverywhere(t *testing.T) {
	require.GreaterOrEqual(t, len(pluginNames), 30)
	for name, valid := range pluginNames {
		c := runtime.Config{Name: name, Type: "client", Path: "example.com/p", NewFunc: "New"}
		verdicts(t, fmt.Sprintf("plugin name %q", name), valid, c, "client")
		if valid {
			buildPathOK(t, c)
		}
	}
}

func TestKindNameRuleEverywhere(t *testing.T) {
	for kind, valid := range kindNames {
		c := runtime.Config{Name: "p", Type: kind, Path: "example.com/p", NewFunc: "New"}
		verdicts(t, fmt.Sprintf("kind name %q", kind), valid, c, kind)
		_, err := runtime.DeclareIn(runtime.NewRegistry(), kind, map[string]func(){})
		assert.Equal(t, valid, err == nil, "DeclareIn: kind %q: %v", kind, err)
		if valid {
			buildPathOK(t, c)
		}
	}
}

// buildPathOK checks that the go command accepts the import path of the
// package loader.Build generates for a valid c.
func buildPathOK(t *testing.T, c runtime.Config) {
	t.Helper()
	path := "example.com/svc/_plugink/" + c.Type + "/" + c.Name
	assert.NoError(t, module.CheckImportPath(path), "the package Build generates for %s", c.String())
}

// FuzzNamesMakeImportPaths: the go command accepts the import path of the
// package loader.Build generates for any kind and plugin names the rules
// accept.
func FuzzNamesMakeImportPaths(f *testing.F) {
	for name := range pluginNames {
		f.Add("client", name)
	}
	for kind := range kindNames {
		f.Add(kind, "p")
	}
	f.Fuzz(func(t *testing.T, kind, name string) {
		if runtime.CheckKindName(kind) != nil || runtime.CheckPluginName(name) != nil {
			return
		}
		if err := module.CheckImportPath("example.com/svc/_plugink/" + kind + "/" + name); err != nil {
			t.Fatalf("kind %q, plugin %q: %v", kind, name, err)
		}
	})
}

func TestImportPathRuleEverywhere(t *testing.T) {
	for path, valid := range importPaths {
		c := runtime.Config{Name: "p", Type: "client", Path: path, NewFunc: "New"}
		verdicts(t, fmt.Sprintf("import path %q", path), valid, c, "client")
		if len(path) <= runtime.MaxImportPathLen {
			assert.Equal(t, module.CheckImportPath(path) == nil, valid, "x/mod's CheckImportPath disagrees on %q", path)
		}
	}
}

// FuzzImportPathMatchesGo: the runtime's import path rule is the go
// command's (golang.org/x/mod/module.CheckImportPath), within the length
// limit.
func FuzzImportPathMatchesGo(f *testing.F) {
	for p := range importPaths {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, path string) {
		if len(path) > runtime.MaxImportPathLen {
			return
		}
		ours, theirs := runtime.CheckImportPath(path), module.CheckImportPath(path)
		if (ours == nil) != (theirs == nil) {
			t.Fatalf("%q: runtime says %v, x/mod says %v", path, ours, theirs)
		}
	})
}

// verdicts runs c (whose one field under test is named by what) through
// every entry point that takes it, and expects each to accept it if valid.
func verdicts(t *testing.T, what string, valid bool, c runtime.Config, kind string) {
	t.Helper()
	check := func(entry string, err error) {
		t.Helper()
		if valid != (err == nil) {
			t.Errorf("%s: %s: want valid=%t, got %v", what, entry, valid, err)
		}
	}
	check("runtime.Check*", errors.Join(runtime.CheckPluginName(c.Name), runtime.CheckKindName(c.Type), runtime.CheckImportPath(c.Path)))
	if what[:4] != "impo" { // ReplaceOnly takes no path
		check("runtime.ReplaceOnly", runtime.NewRegistry().InitAll(nil, runtime.ReplaceOnly(c.String())))
	}
	if runtime.CheckKindName(kind) == nil { // a kind to register into
		register := func() (*runtime.Registry, *runtime.Kind[func()]) {
			reg := runtime.NewRegistry()
			k, err := runtime.DeclareIn(reg, kind, map[string]func(){})
			require.NoError(t, err)
			return reg, k
		}
		reg, _ := register()
		fn := c
		fn.NewFunc = func() {}
		if c.Path != "" { // runtime.Config.Path may be empty: a constructor registered in code
			check("Registry.Init", reg.Init(&fn))
		}
		if runtime.CheckImportPath(c.Path) == nil { // Register takes no path
			_, k := register()
			check("Kind.Register", k.Register(c.Name, func() {}))
		}
	}
	check("gen.ParseManifest", parseManifest(c))
	host := emit.Host{Package: "main", Manifest: "plugink.yaml", DynamicDir: "plugins",
		Kinds:   []emit.Kind{{Name: c.Type, Pkg: "example.com/k", PkgName: "k", Var: "Kind"}},
		Plugins: []emit.Plugin{{Config: c, PkgName: "p"}}}
	_, err := emit.Static(host)
	check("emit.Static", err)
	_, err = emit.Dynamic(host)
	check("emit.Dynamic", err)
	// With no go command, a valid Config gets as far as looking for it.
	err = loader.NewPlugin(loader.WithBuildOptions(loader.BuildOptions{Go: "/nonexistent/go", IgnoreHost: true})).Build(t.TempDir()+"/p", &c)
	if !errors.Is(err, pluginbuild.ErrNoToolchain) && !errors.Is(err, runtime.ErrInvalid) {
		t.Fatalf("%s: loader.Build: unexpected error %v", what, err)
	}
	check("loader.Build", func() error {
		if errors.Is(err, runtime.ErrInvalid) {
			return err
		}
		return nil
	}())
}

// parseManifest parses a manifest declaring c's kind and c.
func parseManifest(c runtime.Config) error {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) } // JSON strings are YAML strings
	manifest := fmt.Sprintf("kinds:\n  %s: example.com/k.Kind\nplugins:\n  - name: %s\n    type: %s\n    path: %s\n    newfunc: %s\n",
		q(c.Type), q(c.Name), q(c.Type), q(c.Path), q(c.NewFunc.(string)))
	_, err := gen.ParseManifest("plugink.yaml", []byte(manifest))
	return err
}

// TestFileNamesAreDistinct: distinct valid (kind, name) pairs never share a
// plugin file name; the file name gives back the pair.
func TestFileNamesAreDistinct(t *testing.T) {
	seen := map[string]string{}
	for kind, kindOK := range kindNames {
		for name, nameOK := range pluginNames {
			if !kindOK || !nameOK {
				continue
			}
			c := runtime.Config{Name: name, Type: kind}
			file := c.FileName()
			if other, dup := seen[file]; dup {
				t.Fatalf("%s and %s share the file name %s", other, c.String(), file)
			}
			seen[file] = c.String()
			k, n, _ := strings.Cut(strings.TrimSuffix(file, ".so"), "_")
			assert.Equal(t, c.String(), k+"/"+n)
		}
	}
	assert.Error(t, runtime.CheckKindName("client_a"), "client_a/b would share client/a_b's file")
}

// FuzzFuncNameMatchesGo: a constructor name is what go/token calls an
// exported identifier.
func FuzzFuncNameMatchesGo(f *testing.F) {
	for _, s := range []string{"NewClient", "newClient", "New_2", "_New", "Ñew", "N", "", "2New", "New-x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > runtime.MaxImportPathLen {
			return
		}
		want := token.IsIdentifier(s) && token.IsExported(s)
		if got := runtime.CheckFuncName(s) == nil; got != want {
			t.Fatalf("%q: runtime says %t, go/token says %t", s, got, want)
		}
	})
}
