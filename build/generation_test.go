package build

import (
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/internal/gocmd"
	"github.com/plugink/plugink/internal/pluginbuild"
	"github.com/plugink/plugink/internal/testmod"
	"github.com/plugink/plugink/loader"
	"github.com/plugink/plugink/runtime"
)

// TestRenamed: a generation copies the plugin's package and what it
// depends on from the main module, except what the host links, and a cgo
// package and what it depends on; each copy goes under its original's
// directory.
func TestRenamed(t *testing.T) {
	mod := &pluginbuild.Module{Path: "example.com/svc", Dir: filepath.FromSlash("/src/svc")}
	main := &packageModule{Path: mod.Path, Dir: mod.Dir, Main: true}
	other := &packageModule{Path: "example.com/lib", Dir: filepath.FromSlash("/mod/lib"), Version: "v1.0.0"}
	work := &packageModule{Path: "example.com/svc/tools", Dir: filepath.FromSlash("/src/svc/tools"), Main: true} // another module of the workspace
	pkgs := map[string]*listedPackage{}
	add := func(path string, m *packageModule, deps ...string) {
		pkgs[path] = &listedPackage{ImportPath: path, Module: m, Deps: deps}
	}
	add("example.com/svc/loud", main, "example.com/svc", "example.com/svc/client", "example.com/svc/helper", "example.com/lib",
		"example.com/svc/tools/x", "example.com/svc/native", "example.com/svc/native/types", "fmt")
	add("example.com/svc", main)
	add("example.com/svc/native", main, "example.com/svc/native/types")
	pkgs["example.com/svc/native"].CgoFiles = []string{"native.go"}
	add("example.com/svc/native/types", main)
	add("example.com/svc/client", main)
	add("example.com/svc/helper", main)
	add("example.com/svc/tools/x", work)
	add("example.com/lib", other)
	pkgs["fmt"] = &listedPackage{ImportPath: "fmt", Standard: true}
	host := map[string]bool{"example.com/svc/client": true, "fmt": true}

	r := renamed("example.com/svc/loud", pkgs, mod, host)
	var paths []string
	for _, p := range r {
		paths = append(paths, p.ImportPath)
	}
	assert.Equal(t, []string{"example.com/svc", "example.com/svc/helper", "example.com/svc/loud"}, paths)

	pl := &plan{generation: "g1", module: mod, renamed: r}
	assert.Equal(t, "example.com/svc/_plugink/g1", pl.copyPath("example.com/svc"))
	assert.Equal(t, "example.com/svc/helper/_plugink/g1", pl.copyPath("example.com/svc/helper"))
	assert.Equal(t, filepath.FromSlash("/src/svc/helper/_plugink/g1"), pl.copyDir("example.com/svc/helper"))
	require.NoError(t, pl.checkCopies())

	real := t.TempDir()
	pl.module.Dir = real
	require.NoError(t, os.MkdirAll(filepath.Join(real, "helper", "_plugink", "g1"), 0o755))
	assert.EqualError(t, pl.checkCopies(), "package example.com/svc/helper: the directory "+filepath.Join(real, "helper", "_plugink", "g1")+
		" exists, where the build compiles a copy of the package (through -overlay): remove it")

	assert.Empty(t, renamed("example.com/svc/loud", pkgs, mod, map[string]bool{"example.com/svc/loud": true,
		"example.com/svc": true, "example.com/svc/helper": true, "example.com/svc/client": true}), "all linked by the host")
	assert.Empty(t, renamed("example.com/svc/loud", pkgs, nil, host), "no main module found")
}

// genModule is a throwaway module example.com/svc: the client kind, a
// plugin package loud that imports a helper package (with an embedded
// file) and a cgo package (with C and header files), none of which the
// host links, and a host cmd/host that loads the plugin files its
// arguments name and prints what each constructor's client says.
func genModule(t *testing.T) (dir string) {
	dir = t.TempDir()
	testmod.Write(t, dir, map[string]string{
		"go.mod":           "module example.com/svc\n\ngo 1.26\n\nrequire github.com/plugink/plugink v0.0.0\n\nreplace github.com/plugink/plugink => " + testmod.Root(t) + "\n",
		"client/client.go": testmod.ClientKind,
		"helper/helper.go": "package helper\n\n// Word says which generation this is.\nfunc Word() string { return \"one\" }\n",
		"helper/unit.go": `package helper

import _ "embed"

// Unit is read from an embedded file.
//
//go:embed data/unit.txt
var Unit string
`,
		"helper/data/unit.txt": "kg",
		"native/native.go": `package native

// #include "native.h"
import "C"

// Value is a C function's result.
func Value() int { return int(C.native_value()) }
`,
		"native/native.h": "int native_value(void);\n",
		"native/native.c": "#include \"native.h\"\n\nint native_value(void) { return 41; }\n",
		"loud/loud.go": `package loud

import (
	"strconv"

	"example.com/svc/client"
	h "example.com/svc/helper"
	"example.com/svc/native"
)

type c struct{}

func (c) Call(s string) string { return "loud " + h.Word() + " " + strconv.Itoa(native.Value()) + h.Unit + s }

// New makes the client.
func New(...client.Option) client.Client { return c{} }
`,
		"cmd/host/main.go": `package main

import (
	"fmt"
	"os"

	"example.com/svc/client"
	"github.com/plugink/plugink/loader"
)

func main() {
	for _, file := range os.Args[1:] {
		c, err := loader.Load(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(c.NewFunc.(func(...client.Option) client.Client)().Call("!"))
	}
}
`,
		"cmd/host/plugink.yaml": "kinds:\n  client: example.com/svc/client.Kind\nplugins:\n  - name: loud\n    type: client\n    path: example.com/svc/loud\n    newfunc: New\n",
	})
	testmod.Go(t, dir, "mod", "tidy")
	return dir
}

// fingerprinted returns the packages whose fingerprints the ELF file
// records.
func fingerprinted(t *testing.T, file string) []string {
	t.Helper()
	f, err := elf.Open(file)
	require.NoError(t, err)
	defer f.Close()
	syms, err := f.DynamicSymbols()
	require.NoError(t, err)
	var out []string
	for _, s := range syms {
		if p, ok := strings.CutPrefix(s.Name, "go:link.pkghashbytes."); ok {
			out = append(out, p)
		}
	}
	return out
}

// TestGenerationsLoadTogether: a plugin built, changed in its package and
// in a helper package, and built again gives two files with different
// pluginpaths that one process loads together, each constructor running
// its own generation's code. The same inputs give the same file, with or
// without a host binary to tell what the host links.
func TestGenerationsLoadTogether(t *testing.T) {
	testmod.SkipIfShort(t)
	ctx := context.Background()
	dir := genModule(t)
	hostBin := filepath.Join(dir, "host.bin")
	testmod.Go(t, dir, "build", "-tags", runtime.DynamicTag, "-o", hostBin, "./cmd/host")
	m, err := gen.ReadManifest(filepath.Join(dir, "cmd", "host", gen.ManifestFile))
	require.NoError(t, err)
	host, err := loader.ReadHost(hostBin)
	require.NoError(t, err)
	file := filepath.Join(PluginDir(m), "client_loud.so")
	build := func(o Options) Result {
		t.Helper()
		results, err := Plugins(ctx, m, o)
		require.NoError(t, err)
		require.Len(t, results, 1)
		return results[0]
	}

	build(Options{}) // what the host links, from go list
	first := filepath.Join(t.TempDir(), "first.so")
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(first, data, 0o644))
	info1, err := loader.Inspect(first)
	require.NoError(t, err)
	assert.Regexp(t, `^example\.com/svc/_plugink/client/loud/g[0-9a-f]{15}$`, info1.PluginPath)
	assert.Equal(t, "example.com/svc/loud", info1.Config.Path, "the plugin reports its package, not the copy")
	linked := fingerprinted(t, first)
	gen1 := path.Base(info1.PluginPath)
	for _, p := range []string{"helper", "loud"} {
		assert.Contains(t, linked, "example.com/svc/"+p+"/_plugink/"+gen1, "a copy")
		assert.NotContains(t, linked, "example.com/svc/"+p, "not the original")
	}
	assert.Contains(t, linked, "example.com/svc/client", "the host's package, shared")
	assert.Contains(t, linked, "example.com/svc/native", "a cgo package is not copied")

	testmod.Write(t, dir, map[string]string{"helper/helper.go": "package helper\n\n// Word says which generation this is.\nfunc Word() string { return \"two\" }\n"})
	loud, err := os.ReadFile(filepath.Join(dir, "loud", "loud.go"))
	require.NoError(t, err)
	testmod.Write(t, dir, map[string]string{"loud/loud.go": strings.Replace(string(loud), `"loud "`, `"LOUD "`, 1)})
	r := build(Options{Host: host}) // what the host links, from its fingerprints
	require.False(t, r.Cached)
	info2, err := loader.Inspect(file)
	require.NoError(t, err)
	assert.NotEqual(t, info1.PluginPath, info2.PluginPath)
	assert.Equal(t, "loud one 41kg!\nLOUD two 41kg!\n", run(t, hostBin, first, file))

	// The same inputs: the same generation, the same bytes.
	assert.True(t, build(Options{}).Cached, "go list and the host's fingerprints agree on what to copy")
	second, err := os.ReadFile(file)
	require.NoError(t, err)
	build(Options{Host: host, Force: true})
	again, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.True(t, string(second) == string(again), "a rebuild makes the same bytes")
}

// run runs the program exe with args and returns its standard output.
func run(t *testing.T, exe string, args ...string) string {
	t.Helper()
	cmd := exec.Command(exe, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s", stderr.String())
	return string(out)
}

// TestHostLinksWithoutHostPackage: without a host binary, what the host
// links is what go list finds for the manifest's package with the dynamic
// host's tag and for the kinds' packages, even when the manifest's
// directory has no package (a manifest only to build plugins from).
func TestHostLinksWithoutHostPackage(t *testing.T) {
	testmod.SkipIfShort(t)
	dir := genModule(t)
	for _, tc := range []struct {
		manifest string
		want     []string
	}{
		{filepath.Join(dir, "cmd", "host", gen.ManifestFile), []string{"example.com/svc/cmd/host", "github.com/plugink/plugink/loader"}},
		{filepath.Join(dir, gen.ManifestFile), nil},
	} {
		m := &gen.Manifest{File: tc.manifest, Kinds: []*gen.KindDecl{{Name: "client", Pkg: "example.com/svc/client", Var: "Kind"}}}
		links, err := hostLinks(context.Background(), gocmd.Cmd{Dir: filepath.Dir(tc.manifest)}, nil, "", m, nil)
		require.NoError(t, err, tc.manifest)
		for _, p := range append(tc.want, "example.com/svc/client", "github.com/plugink/plugink/runtime", "fmt") {
			assert.True(t, links[p], "%s: %s", tc.manifest, p)
		}
		assert.False(t, links["example.com/svc/loud"], "%s: the plugin", tc.manifest)
		assert.False(t, links["example.com/svc/helper"], "%s: what only the plugin imports", tc.manifest)
	}
}

// TestCopiesImportHostInternal: a copied package may import an internal
// package the host links (and so is not copied), as the original may: the
// copy lives under the original's directory, inside the internal
// package's parent.
func TestCopiesImportHostInternal(t *testing.T) {
	testmod.SkipIfShort(t)
	dir := t.TempDir()
	testmod.Write(t, dir, map[string]string{
		"go.mod":                  "module example.com/svc\n\ngo 1.26\n\nrequire github.com/plugink/plugink v0.0.0\n\nreplace github.com/plugink/plugink => " + testmod.Root(t) + "\n",
		"client/client.go":        testmod.ClientKind,
		"kit/kit.go":              "package kit\n\nimport \"example.com/svc/kit/internal/tag\"\n\n// Tag is the kit's tag.\nfunc Tag() string { return tag.Tag }\n",
		"kit/internal/tag/tag.go": "package tag\n\n// Tag is shared by the kit and its plugins.\nconst Tag = \"kit\"\n\n// Seen counts calls.\nvar Seen int\n",
		"kit/loud/loud.go": `package loud

import (
	"example.com/svc/client"
	"example.com/svc/kit/internal/tag"
)

type c struct{}

func (c) Call(s string) string { tag.Seen++; return tag.Tag + s }

// New makes the client.
func New(...client.Option) client.Client { return c{} }
`,
		"cmd/host/main.go": `package main

import (
	"fmt"

	_ "example.com/svc/client"
	"example.com/svc/kit"
)

func main() { fmt.Println(kit.Tag()) }
`,
		"cmd/host/plugink.yaml": "kinds:\n  client: example.com/svc/client.Kind\nplugins:\n  - name: loud\n    type: client\n    path: example.com/svc/kit/loud\n    newfunc: New\n",
	})
	testmod.Go(t, dir, "mod", "tidy")
	m, err := gen.ReadManifest(filepath.Join(dir, "cmd", "host", gen.ManifestFile))
	require.NoError(t, err)
	results, err := Plugins(context.Background(), m, Options{})
	require.NoError(t, err)
	require.Len(t, results, 1)
	linked := fingerprinted(t, results[0].File)
	assert.Contains(t, linked, "example.com/svc/kit/internal/tag", "the host's internal package, shared")
	assert.NotContains(t, linked, "example.com/svc/kit/loud", "the plugin's package is a copy")
}
