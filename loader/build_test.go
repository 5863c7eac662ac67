package loader_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/internal/pluginbuild"
	sumfile "github.com/plugink/plugink/internal/sums"
	"github.com/plugink/plugink/internal/testmod"
	"github.com/plugink/plugink/loader"
	"github.com/plugink/plugink/loader/internal/testkind"
	"github.com/plugink/plugink/runtime"
)

// TestBuildRejectsConfigs covers Configs Build refuses before running the
// go command.
func TestBuildRejectsConfigs(t *testing.T) {
	out := filepath.Join(t.TempDir(), "p.so")
	opts := map[string]loader.BuildOptions{}
	tests := []struct {
		name string
		cfg  *runtime.Config
		want string
	}{
		{"NewFunc as a func value", &runtime.Config{Name: "echo", Type: "client", Path: echoPkg, NewFunc: testkind.NewStatic},
			`NewFunc is a value of type func(...testkind.Option) testkind.Client; Build takes the constructor's name, a string such as "NewClient"`},
		{"nil NewFunc", &runtime.Config{Name: "echo", Type: "client", Path: echoPkg},
			`NewFunc is nil; Build takes the constructor's name`},
		{"nil Config", nil, "nil *runtime.Config"},
		{"name that is no directory", &runtime.Config{Name: "../echo", Type: "client", Path: echoPkg, NewFunc: "NewClient"},
			`Name "../echo" has '.' at byte 0: ` + runtime.PluginNameRule},
		{"unexported constructor", &runtime.Config{Name: "echo", Type: "client", Path: echoPkg, NewFunc: "newClient"},
			`NewFunc "newClient" is not an exported Go identifier, such as NewClient`},
		{"bad import path", &runtime.Config{Name: "echo", Type: "client", Path: "./echo", NewFunc: "NewClient"},
			`Path "./echo" has the element "."`},
	}
	echo := &runtime.Config{Name: "echo", Type: "client", Path: echoPkg, NewFunc: "NewClient"}
	for _, tc := range []struct {
		name string
		o    loader.BuildOptions
		want string
	}{
		{"generation with upper case", loader.BuildOptions{Generation: "G1"}, `generation "G1" has 'G': want lower-case letters and digits`},
		{"generation as a path", loader.BuildOptions{Generation: "../x"}, `generation "../x" has '.'`},
		{"long generation", loader.BuildOptions{Generation: strings.Repeat("a", 33)}, `is 33 bytes long, over 32`},
		{"bad import", loader.BuildOptions{Import: "a//b"}, `Import "a//b" has an empty element`},
		{"relative overlay", loader.BuildOptions{Overlay: map[string][]byte{"x.go": nil}}, `overlay file "x.go" is not an absolute path`},
	} {
		tests = append(tests, struct {
			name string
			cfg  *runtime.Config
			want string
		}{tc.name, echo, tc.want})
		opts[tc.name] = tc.o
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := loader.NewPlugin(loader.WithBuildOptions(opts[tc.name])).Build(out, tc.cfg)
			require.ErrorIs(t, err, runtime.ErrInvalid)
			var be *loader.BuildError
			require.ErrorAs(t, err, &be)
			assert.Empty(t, be.Args, "the go command did not run")
			assert.Contains(t, err.Error(), tc.want)
			assert.NoFileExists(t, out)
		})
	}
}

// TestBuildEnvironmentErrors covers a missing toolchain, cgo or module.
func TestBuildEnvironmentErrors(t *testing.T) {
	cfg := &runtime.Config{Name: "envcheck", Type: "client", Path: echoPkg, NewFunc: "NewClient"}
	build := func(o loader.BuildOptions) error {
		return loader.NewPlugin(loader.WithBuildOptions(o)).Build(filepath.Join(t.TempDir(), "p"), cfg)
	}
	t.Run("no go command", func(t *testing.T) {
		err := build(loader.BuildOptions{Go: filepath.Join(t.TempDir(), "go")})
		require.ErrorIs(t, err, pluginbuild.ErrNoToolchain)
		assert.Equal(t, []string{"install Go, or set BuildOptions.Go"}, runtime.Hints(err))
	})
	t.Run("no go command in PATH", func(t *testing.T) {
		err := build(loader.BuildOptions{Go: "go-not-installed"})
		require.ErrorIs(t, err, pluginbuild.ErrNoToolchain)
		assert.Contains(t, err.Error(), `exec: "go-not-installed": executable file not found in $PATH`)
	})
	t.Run("cgo disabled", func(t *testing.T) {
		err := build(loader.BuildOptions{Env: []string{"CGO_ENABLED=0"}})
		require.ErrorIs(t, err, pluginbuild.ErrNoCgo)
		assert.Contains(t, err.Error(), "cgo is not available: CGO_ENABLED=0, and -buildmode=plugin needs cgo")
	})
	t.Run("no C compiler", func(t *testing.T) {
		cc := filepath.Join(t.TempDir(), "no-such-cc")
		err := build(loader.BuildOptions{Env: []string{"CC=" + cc}})
		require.ErrorIs(t, err, pluginbuild.ErrNoCgo)
		assert.Contains(t, err.Error(), `C compiler "`+cc+`" not found`)
	})
	t.Run("not in a module", func(t *testing.T) {
		err := build(loader.BuildOptions{Dir: t.TempDir(), Env: []string{"GOWORK=off"}})
		require.ErrorIs(t, err, pluginbuild.ErrNotModule)
		assert.Contains(t, err.Error(), "no go.mod in ")
	})
	t.Run("go version differs from the host's", func(t *testing.T) {
		host := &debug.BuildInfo{GoVersion: "go1.21.0"}
		err := build(loader.BuildOptions{Host: host})
		require.ErrorIs(t, err, pluginbuild.ErrGoVersion)
		assert.Contains(t, err.Error(), "the go command is go1.26")
		assert.Contains(t, err.Error(), "but the host was built with go1.21.0")
		assert.Equal(t, []string{"a plugin loads only into a host built by the same Go: set GOTOOLCHAIN=go1.21.0 (or BuildOptions.Go)"}, runtime.Hints(err))
	})
	t.Run("generated package directory exists", func(t *testing.T) {
		mod := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module example.com/m\n\ngo 1.26\n"), 0o644))
		require.NoError(t, os.MkdirAll(filepath.Join(mod, "_plugink", "client", "envcheck"), 0o755))
		err := build(loader.BuildOptions{Dir: mod, Env: []string{"GOWORK=off"}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), filepath.Join(mod, "_plugink", "client", "envcheck")+" exists")
		assert.Contains(t, runtime.Hints(err)[0], "Build compiles the plugin's generated main package as this directory")
	})
}

func TestBuildCompileErrors(t *testing.T) {
	testmod.SkipIfShort(t)
	out := filepath.Join(t.TempDir(), "broken.so")
	t.Run("no such constructor", func(t *testing.T) {
		err := loader.Build(out, &runtime.Config{Name: "broken", Type: "client", Path: echoPkg, NewFunc: "DoesNotExist"})
		require.ErrorIs(t, err, pluginbuild.ErrCompile)
		var be *loader.BuildError
		require.ErrorAs(t, err, &be)
		assert.Contains(t, be.Output, "_plugink/client/broken/main.go")
		assert.Contains(t, be.Output, "undefined: impl.DoesNotExist")
		assert.Contains(t, be.Args, "-buildmode=plugin")
		assert.Contains(t, err.Error(), "go build failed (exit status 1) in module github.com/plugink/plugink")
		assert.Contains(t, err.Error(), ":\n"+strings.TrimSpace(be.Output), "the message carries the compiler's output")
		assert.NoFileExists(t, out)
	})
	t.Run("no such package", func(t *testing.T) {
		err := loader.Build(out, &runtime.Config{Name: "broken", Type: "client", Path: testdataPkg + "/plugins/nosuch", NewFunc: "NewClient"})
		require.ErrorIs(t, err, pluginbuild.ErrCompile)
		assert.Contains(t, err.Error(), "plugins/nosuch")
	})
	entries, err := os.ReadDir(filepath.Dir(out))
	require.NoError(t, err)
	assert.Empty(t, entries, "failed builds leave no temporary files")
}

// TestBuildInParallel builds one plugin several times at once, into the
// same file and into files with the same name in two directories,
// recording checksums into one sum file.
// parRuns counts the runs of TestBuildInParallel.
var parRuns atomic.Int64

func TestBuildInParallel(t *testing.T) {
	testmod.SkipIfShort(t)
	// A process keeps every plugin it loaded: a new name for each run (-count)
	// keeps this run's files from clashing with the last run's pluginpath.
	name := fmt.Sprintf("par%d", parRuns.Add(1))
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a", name), filepath.Join(dir, "b", name)
	sumFile := filepath.Join(dir, sumfile.FileName)
	l := loader.NewPlugin(loader.WithSums(loader.Sums{}), loader.WithSumsRequired(),
		loader.WithBuildOptions(loader.BuildOptions{SumFile: sumFile}))
	cfg := &runtime.Config{Name: name, Type: "client", Path: echoPkg, NewFunc: "NewClient"}

	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, out := range []string{a, a, b} {
		wg.Go(func() { errs[i] = l.Build(out, cfg) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	sumA, err := sumfile.File(a + ".so")
	require.NoError(t, err)
	sumB, err := sumfile.File(b + ".so")
	require.NoError(t, err)
	assert.Equal(t, sumA, sumB, "builds are reproducible")
	sums, err := sumfile.Read(sumFile)
	require.NoError(t, err)
	assert.Equal(t, loader.Sums{a + ".so": sumA, b + ".so": sumB}, sums)
	for _, sub := range []string{"a", "b"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		require.NoError(t, err)
		require.Len(t, entries, 1, "only the .so, no temporary files")
		assert.Equal(t, name+".so", entries[0].Name())
	}

	// The Loader that built them verifies what it built.
	reg, kind := newRegistry(t)
	l2 := loader.NewPlugin(loader.WithRegistry(reg), loader.WithSums(sums), loader.WithSumsRequired())
	_, err = l2.LoadAll([]string{b + ".so"})
	require.NoError(t, err)
	assert.Equal(t, []string{name}, kind.Names())
	cfgB, err := l2.Load(b + ".so")
	require.NoError(t, err)
	cfgA, err := l.Load(a + ".so")
	require.NoError(t, err, "a has b's pluginpath and contents: it is the plugin already loaded")
	assert.Same(t, cfgB, cfgA)
}

// TestBuildContextCancelled: a cancelled build stops the go command and
// leaves nothing behind. A build cache of its own makes the build long
// enough (every package is compiled) to cancel it midway.
func TestBuildContextCancelled(t *testing.T) {
	testmod.SkipIfShort(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "cancelled.so")
	l := loader.NewPlugin(loader.WithBuildOptions(loader.BuildOptions{Env: []string{"GOCACHE=" + filepath.Join(dir, "cache")}}))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(time.Second, cancel)
	start := time.Now()
	err := l.BuildContext(ctx, out, &runtime.Config{Name: "cancelled", Type: "client", Path: echoPkg, NewFunc: "NewClient"})
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 30*time.Second, "the go command stopped when told")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.Equal(t, "cache", e.Name(), "nothing but the build cache is left")
	}
}

func TestReadHostBuildInfo(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	h, err := loader.ReadHost(exe)
	require.NoError(t, err)
	assert.Equal(t, "github.com/plugink/plugink/loader.test", h.BuildInfo.Path)

	text := filepath.Join(t.TempDir(), "text")
	require.NoError(t, os.WriteFile(text, []byte("text"), 0o644))
	_, err = loader.ReadHost(text)
	assert.ErrorContains(t, err, "read build info of "+text+": ")
}
