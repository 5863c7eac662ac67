package loader_test

import (
	"cmp"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/mod/module"

	"github.com/plugink/plugink/internal/settings"
	"github.com/plugink/plugink/internal/testmod"
	"github.com/plugink/plugink/loader"
	"github.com/plugink/plugink/loader/internal/records"
	"github.com/plugink/plugink/loader/internal/testkind"
	"github.com/plugink/plugink/runtime"
)

// Import paths of the test plugins under testdata/.
const (
	testdataPkg = "github.com/plugink/plugink/loader/testdata"
	echoPkg     = testdataPkg + "/plugins/echo"
	greetPkg    = testdataPkg + "/plugins/greet-go/v2" // package greet
)

// fixtureDir holds the plugin files the tests build, once per test binary.
var fixtureDir string

// fixture is a plugin file built on first use.
type fixture struct {
	name  string
	build func(out string) error
	once  sync.Once
	path  string
	err   error
}

func (f *fixture) get() (string, error) {
	f.once.Do(func() {
		f.path = filepath.Join(fixtureDir, f.name+".so")
		f.err = f.build(f.path)
	})
	return f.path, f.err
}

// fixtures are built in this order (the ones most tests need first), in
// parallel, when the test binary starts.
var fixtures = []*fixture{
	{name: "echo", build: buildConfig(runtime.Config{Name: "echo", Type: "client", Path: echoPkg, NewFunc: "NewClient"})},
	{name: "greet", build: buildConfig(runtime.Config{Name: "greet", Type: "client", Path: greetPkg, NewFunc: "NewClient"})},
	// echo2 has echo's pluginpath (client/echo in this module) and other code.
	{name: "echo2", build: buildConfig(runtime.Config{Name: "echo", Type: "client", Path: greetPkg, NewFunc: "NewClient"})},
	{name: "noplugin", build: buildMain("noplugin")},
	{name: "wrongtype", build: buildMain("wrongtype")},
	{name: "nilfunc", build: buildMain("nilfunc")},
	{name: "namefunc", build: buildMain("namefunc")},
	{name: "wrongsig", build: buildConfig(runtime.Config{Name: "wrongsig", Type: "client", Path: echoPkg, NewFunc: "NewWrong"})},
	{name: "unknownkind", build: buildConfig(runtime.Config{Name: "echo", Type: "nosuchkind", Path: echoPkg, NewFunc: "NewClient"})},
	{name: "dupecho", build: buildMain("dupecho")},
	{name: "tamper", build: buildConfig(runtime.Config{Name: "tamper", Type: "client", Path: echoPkg, NewFunc: "NewClient"})},
	{name: "trimpath", build: buildTrimpathMismatch},
	yamlHost,
	{name: "yaml", build: buildYAMLPlugin},
	{name: "relr", build: buildRELR},
	{name: "up1", build: buildGeneration("g1", "NewClient", "v1")},
	{name: "up2", build: buildGeneration("g2", "NewClient", "v2")},
	{name: "up3", build: buildGeneration("g3", "NewClient", "v3")},
	{name: "up2bad", build: buildGeneration("g2", "NewClient", "v9")},
	// up5a and up5b share a pluginpath no other fixture has.
	{name: "up5a", build: buildGeneration("g5", "NewClient", "v7")},
	{name: "up5b", build: buildGeneration("g5", "NewClient", "v8")},
	{name: "upwrongtype", build: buildGeneration("g4", "NewWrong", "v4")},
	{name: "upnogen", build: buildGeneration("", "NewClient", "v5")},
	{name: "upnogen2", build: buildGeneration("", "NewClient", "v6")},
	{name: "loadallhost", build: func(out string) error { return goBuild(out, "./testdata/hosts/loadall") }},
	{name: "yamlok", build: buildYAMLPluginForHost},
	{name: "panicinit", build: buildMain("panicinit")},
	{name: "noisyinit", build: buildMain("noisyinit")},
	{name: "conc1", build: buildConfig(runtime.Config{Name: "conc1", Type: "client", Path: echoPkg, NewFunc: "NewClient"})},
	{name: "conc2", build: buildConfig(runtime.Config{Name: "conc2", Type: "client", Path: echoPkg, NewFunc: "NewClient"})},
	{name: "conc3", build: buildConfig(runtime.Config{Name: "conc3", Type: "client", Path: greetPkg, NewFunc: "NewClient"})},
	{name: "initlog", build: buildMain("initlog")},
	{name: "signedenv", build: buildConfig(runtime.Config{Name: "signedenv", Type: "client", Path: echoPkg, NewFunc: "NewClient"})},
	{name: "sig1", build: buildGeneration("g6", "NewClient", "s1")},
	{name: "sig2", build: buildGeneration("g7", "NewClient", "s2")},
}

// yamlHost is the host program testdata/hosts/yamlhost.
var yamlHost = &fixture{name: "yamlhost", build: buildYAMLHost}

// fixturePath returns the path of the named fixture, building it if the
// background builds have not yet.
func fixturePath(t testing.TB, name string) string {
	t.Helper()
	testmod.SkipIfShort(t)
	for _, f := range fixtures {
		if f.name == name {
			path, err := f.get()
			require.NoError(t, err, "build fixture %s", name)
			return path
		}
	}
	t.Fatalf("no fixture %s", name)
	return ""
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(benchChildEnv); spec != "" {
		os.Exit(benchChild(spec))
	}
	if spec := os.Getenv(mutationChildEnv); spec != "" {
		os.Exit(mutationChild(spec))
	}
	if spec := os.Getenv(ldsoChildEnv); spec != "" {
		os.Exit(ldsoChild(spec))
	}
	flag.Parse()
	dir, err := os.MkdirTemp("", "plugink-loader-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fixtureDir = dir
	// Load records go with the fixtures, not into the user's cache.
	os.Setenv(records.Env, filepath.Join(dir, "records"))
	wait := func() {}
	if flag.Lookup("test.run").Value.String() == "" && !testing.Short() {
		// The whole suite runs: build every fixture ahead of the tests.
		// With -run, the selected tests build what they use.
		wait = prebuild(2) // two cores
	}
	code := m.Run()
	wait() // no go build may still write into dir
	os.RemoveAll(dir)
	os.Exit(code)
}

// prebuild starts building every fixture in the background, n at a time,
// and returns a function that waits for the builds to end.
func prebuild(n int) (wait func()) {
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	wg.Go(func() {
		for _, f := range fixtures { // in order: a slot, then the next build
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				f.get()
			})
		}
	})
	return wg.Wait
}

// buildConfig builds c with Build and this test binary's settings.
func buildConfig(c runtime.Config) func(string) error {
	return func(out string) error { return loader.Build(out, &c) }
}

// buildMain builds the hand-written main package testdata/mains/<name> as a
// plugin, with the flags and environment Build would use.
func buildMain(name string) func(string) error {
	return func(out string) error {
		return goBuild(out, "-buildmode=plugin", "./testdata/mains/"+name)
	}
}

// goBuild runs go build -o out with this test binary's settings.
func goBuild(out string, args ...string) error {
	bi, _ := debug.ReadBuildInfo()
	flags, env, err := settings.Build(bi)
	if err != nil {
		return err
	}
	cmd := exec.Command("go", append(append([]string{"build", "-o", out}, flags...), args...)...)
	cmd.Env = append(os.Environ(), env...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	return nil
}

// hostTrimpath reports whether this test binary was built with -trimpath.
func hostTrimpath() bool {
	bi, _ := debug.ReadBuildInfo()
	for _, s := range bi.Settings {
		if s.Key == "-trimpath" {
			return s.Value == "true"
		}
	}
	return false
}

// buildTrimpathMismatch builds a plugin that differs from the test binary
// in -trimpath only.
func buildTrimpathMismatch(out string) error {
	l := loader.NewPlugin(loader.WithBuildOptions(loader.BuildOptions{Flags: []string{fmt.Sprintf("-trimpath=%t", !hostTrimpath())}}))
	return l.Build(out, &runtime.Config{Name: "trimpath", Type: "client", Path: echoPkg, NewFunc: "NewClient"})
}

// buildYAMLHost builds the host program testdata/hosts/yamlhost (an
// executable, despite the fixture's file name), with this test binary's
// settings so that it shares its compiled packages. Unlike this test
// binary, whose build information lists no modules, it records the version
// of go.yaml.in/yaml/v3 it links.
func buildYAMLHost(out string) error {
	return goBuild(out, "./testdata/hosts/yamlhost")
}

// yamlHostInfo returns the yamlhost fixture's path and build information.
func yamlHostInfo() (string, *debug.BuildInfo, error) {
	path, err := yamlHost.get()
	if err != nil {
		return "", nil, err
	}
	h, err := loader.ReadHost(path)
	if err != nil {
		return "", nil, err
	}
	return path, h.BuildInfo, nil
}

// buildYAMLPluginForHost builds testdata/yamlmod in this module, for the
// host yamlhost: it links the same yaml as the host.
func buildYAMLPluginForHost(out string) error {
	_, host, err := yamlHostInfo()
	if err != nil {
		return err
	}
	l := loader.NewPlugin(loader.WithBuildOptions(loader.BuildOptions{Host: host}))
	return l.Build(out, &runtime.Config{Name: "yamlok", Type: "client", Path: testdataPkg + "/yamlmod", NewFunc: "New"})
}

// yamlVariant is the version of go.yaml.in/yaml/v3 the "yaml" fixture links:
// newer than any the host can link, and served only by a file proxy the
// fixture makes.
const yamlVariant = "v3.0.7-plugink.1"

// buildYAMLPlugin builds testdata/yamlmod for the host yamlhost, but in a
// throwaway module that requires go.yaml.in/yaml/v3 at yamlVariant: a copy
// of the version the host links, with one file added, published as a
// module version through a GOPROXY=file:// directory. The plugin then links
// another version of a module the host links. Nothing is downloaded: every
// other module comes from the module cache's download directory, and the
// build uses a module cache of its own, so the variant never reaches the
// machine's.
func buildYAMLPlugin(out string) error {
	const yamlPath = "go.yaml.in/yaml/v3"
	_, host, err := yamlHostInfo()
	if err != nil {
		return err
	}
	version := ""
	for _, d := range host.Deps {
		if d.Path == yamlPath {
			version = d.Version
		}
	}
	if version == "" {
		return fmt.Errorf("yamlhost does not link %s", yamlPath)
	}
	cache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return err
	}
	modCache := strings.TrimSpace(string(cache))
	root, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	work := filepath.Join(fixtureDir, "yamlvariant")
	src := filepath.Join(work, "src")
	if err := testmod.CopyDir(filepath.Join(modCache, yamlPath+"@"+version), src); err != nil {
		return err
	}
	variant := "package yaml\n\n// PluginkVariant makes this version differ from " + version + ".\nfunc PluginkVariant() string { return \"" + yamlVariant + "\" }\n"
	if err := os.WriteFile(filepath.Join(src, "zz_plugink_variant.go"), []byte(variant), 0o644); err != nil {
		return err
	}
	proxy := filepath.Join(work, "proxy")
	if err := testmod.Publish(proxy, module.Version{Path: yamlPath, Version: yamlVariant}, src); err != nil {
		return err
	}
	mod := filepath.Join(work, "mod")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"go.mod": fmt.Sprintf("module example.com/yamlplug\n\ngo 1.26\n\nrequire (\n\tgithub.com/plugink/plugink v0.0.0-00010101000000-000000000000\n\t%s %s\n)\n\nreplace github.com/plugink/plugink => %s\n",
			yamlPath, yamlVariant, root),
	}
	for src, dst := range map[string]string{"testdata/yamlmod/yamlplug.go": "yamlplug.go", "../go.sum": "go.sum"} {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		files[dst] = string(b)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(mod, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	l := loader.NewPlugin(loader.WithBuildOptions(loader.BuildOptions{
		Dir:  mod,
		Host: host,
		Env: []string{"GOWORK=off", "GOFLAGS=-mod=mod -modcacherw", "GOSUMDB=off",
			"GOMODCACHE=" + filepath.Join(work, "modcache"),
			"GOPROXY=" + testmod.FileURL(proxy) + "," + testmod.FileURL(filepath.Join(modCache, "cache", "download"))},
	}))
	return l.Build(out, &runtime.Config{Name: "yaml", Type: "client", Path: "example.com/yamlplug", NewFunc: "New"})
}

// buildRELR builds a plugin whose relative relocations the external
// linker packs into a DT_RELR table, as -Wl,-z,pack-relative-relocs asks.
func buildRELR(out string) error {
	l := loader.NewPlugin(loader.WithBuildOptions(loader.BuildOptions{Flags: []string{"-ldflags=-extldflags=-Wl,-z,pack-relative-relocs"}}))
	return l.Build(out, &runtime.Config{Name: "relr", Type: "client", Path: echoPkg, NewFunc: "NewClient"})
}

// buildGeneration builds generation gen of the plugin client/up: the echo
// plugin, renamed for the generation (as plugink build does) and changed to
// answer "<reply>: <request>", through BuildOptions' Generation, Import and
// Overlay. With gen "", it builds without a generation.
func buildGeneration(gen, newFunc, reply string) func(string) error {
	return func(out string) error {
		root, err := filepath.Abs("..")
		if err != nil {
			return err
		}
		src, err := os.ReadFile(filepath.Join("testdata", "plugins", "echo", "echo.go"))
		if err != nil {
			return err
		}
		changed := strings.Replace(string(src), `"echo: "`, strconv.Quote(reply+": "), 1)
		// The copy lives under the original's directory, so that it may
		// import what the original imports, internal packages included.
		rel := "loader/testdata/plugins/echo/_plugink/" + cmp.Or(gen, "nogen")
		o := loader.BuildOptions{Generation: gen, Import: "github.com/plugink/plugink/" + rel,
			Overlay: map[string][]byte{filepath.Join(root, filepath.FromSlash(rel), "echo.go"): []byte(changed)}}
		l := loader.NewPlugin(loader.WithBuildOptions(o))
		return l.Build(out, &runtime.Config{Name: "up", Type: "client", Path: echoPkg, NewFunc: newFunc})
	}
}

// copyFile copies src to dst.
func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(dst, b, 0o644))
}

// newRegistry returns a registry with the kind "client" declared over a
// fresh map, and the kind.
func newRegistry(t testing.TB) (*runtime.Registry, *runtime.Kind[testkind.NewFunc]) {
	t.Helper()
	reg := runtime.NewRegistry()
	kind, err := runtime.DeclareIn(reg, "client", map[string]testkind.NewFunc{})
	require.NoError(t, err)
	return reg, kind
}

// runIn runs a command in dir and returns its combined output.
func runIn(dir, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// runCC compiles the C file src into the shared library out with the C
// compiler cgo uses.
func runCC(src, out string) error {
	cc, err := exec.Command("go", "env", "CC").Output()
	if err != nil {
		return err
	}
	args := append(strings.Fields(string(cc)), "-shared", "-fPIC", "-o", out, src)
	if len(args) < 6 {
		return fmt.Errorf("go env CC is empty")
	}
	if msg, err := runIn("", args[0], args[1:]...); err != nil {
		return fmt.Errorf("%v: %s", err, msg)
	}
	return nil
}
