// Package pluginbuild builds a Go plugin (.so) from a runtime.Config: it
// writes the plugin's small main package (package main declaring
// var Plugin = runtime.Config{...} and the metadata that Inspect reads)
// and compiles it with go build -buildmode=plugin inside a module's graph,
// with the settings of the program the plugin is for, only in the go
// command's view (-overlay): nothing is written into the module.
//
//	out, sum, err := pluginbuild.Options{Dir: "."}.Build(ctx, "plugins/brpc.so", &cfg, nil)
package pluginbuild

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/plugink/plugink/internal/fsx"
	"github.com/plugink/plugink/internal/gocmd"
	"github.com/plugink/plugink/internal/layout"
	"github.com/plugink/plugink/internal/self"
	"github.com/plugink/plugink/internal/settings"
	"github.com/plugink/plugink/internal/sums"
	"github.com/plugink/plugink/runtime"
)

// Options says how a plugin is built. The zero value builds in the
// current directory's module with this program's settings.
type Options struct {
	// Dir is a directory inside the module (or go.work workspace) to build
	// in; "" means the current directory. The plugin is compiled inside
	// this module's graph, so it links the same versions of shared
	// packages as a host built from it.
	Dir string
	// Go is the go command to run; "" means "go" found in $PATH.
	Go string
	// Host is the build information of the program the plugin is for; its
	// Go version must be the go command's, and its build settings
	// (-trimpath, -race, -msan, -asan, -cover, -tags, -gcflags, -asmflags,
	// -pgo, CGO_ENABLED and the CGO_* flags, GOOS, GOARCH, GOAMD64 and the
	// other architecture variables, GOEXPERIMENT, GOFIPS140) are passed to
	// go build. nil means this program's own (runtime/debug.ReadBuildInfo);
	// the loader's ReadHost reads another binary's.
	Host *debug.BuildInfo
	// IgnoreHost builds with the go command's defaults instead of Host's
	// settings, and skips the Go version check.
	IgnoreHost bool
	// Flags are extra go build flags. They come after the flags taken from
	// Host, so they override them: "-trimpath=false", "-tags=a,b".
	Flags []string
	// Env holds extra KEY=value environment variables for the go command;
	// they override the inherited environment and Host's settings.
	Env []string
	// SumFile, if set, is a sha256sum-format file (conventionally
	// plugink.sum, next to the plugins) in which Build records the new
	// file's SHA-256.
	SumFile string

	// Generation, if set, makes the build one generation of the plugin:
	// its main package, and so its pluginpath, is
	// <module>/_plugink/<type>/<name>/<Generation>, so that a process that
	// holds another generation of the plugin can load this one beside it
	// (the loader's Upgrade). It is 1 to 32 lower-case letters and digits;
	// plugink build derives it from the build's inputs, so that the same
	// inputs give the same file.
	Generation string
	// Import, if set, is the import path from which the generated main
	// package takes the constructor, in place of the Config's Path (which
	// the plugin still reports): a copy of the plugin's package under
	// another path, whose files are in Overlay.
	Import string
	// Overlay adds files that the go command sees as if they were on
	// disk, by absolute path; see Import.
	Overlay map[string][]byte

	// Verbose, if set, gets the go build command, after a line "cd <dir>"
	// that says where it runs, before it runs, and what it prints (its
	// -x output, with "-x" in Flags), as it prints it.
	Verbose io.Writer
}

// Build compiles a plugin for c into path, appending ".so" if path lacks
// it, and returns the output's absolute path and its SHA-256. c.NewFunc
// must be the name of the constructor (a string such as "NewClient"),
// exported by the package at c.Path; c's names must follow the rules of
// package runtime. mod is the module to build in, as FindModule returns
// it; nil finds it.
//
// The main package is <module>/_plugink/<type>/<name>, plus
// /<generation> with Options.Generation (package layout): its import path
// is the plugin's pluginpath. The output is written to a temporary file
// next to path and renamed over it, so that builds may run in parallel,
// even of the same plugin into the same file. Errors are *[Error]s; a
// failed compilation carries the compiler's output.
func (o Options) Build(ctx context.Context, path string, c *runtime.Config, mod *Module) (out, sum string, err error) {
	be := &Error{Plugin: c.String(), Path: path}
	fail := func(err error) (string, string, error) {
		be.Err = err
		var h interface{ ErrorHint() string }
		if errors.As(err, &h) {
			be.Hint = h.ErrorHint()
		}
		return "", "", be
	}
	newFunc, err := CheckConfig(c)
	if err != nil {
		return fail(err)
	}
	if err := o.checkGenerationOptions(); err != nil {
		return fail(err)
	}
	if out, err = outputPath(path); err != nil {
		return fail(err)
	}
	be.Path = out
	flags, env, err := o.Settings()
	if err != nil {
		return fail(err)
	}
	if mod == nil {
		if mod, err = o.FindModule(ctx); err != nil {
			return fail(err)
		}
	}
	goCmd := gocmd.Cmd{Go: o.Go, Dir: mod.Dir, Env: append(os.Environ(), env...)}
	src := Main(c, newFunc, cmp.Or(o.Import, c.Path), self.PluginkVersion())
	args, output, err := mod.compile(ctx, goCmd, c, src, out, flags, o)
	if err != nil {
		be.Args, be.Output, be.Source = args, output, src
		return fail(err)
	}
	if sum, err = sums.File(out); err != nil {
		return fail(err)
	}
	if o.SumFile != "" {
		if err := sums.Record(o.SumFile, out, sum); err != nil {
			return fail(fmt.Errorf("record checksum in %s: %w", o.SumFile, err))
		}
	}
	return out, sum, nil
}

// checkGenerationOptions checks Generation, Import and Overlay.
func (o Options) checkGenerationOptions() error {
	if err := layout.CheckGeneration(o.Generation); err != nil {
		return fmt.Errorf("%w: %w", runtime.ErrInvalid, err)
	}
	if o.Import != "" {
		if err := runtime.CheckImportPath(o.Import); err != nil {
			return fmt.Errorf("%w: Import %s %w", runtime.ErrInvalid, runtime.Quote(o.Import), err)
		}
	}
	for path := range o.Overlay {
		if !filepath.IsAbs(path) {
			return fmt.Errorf("%w: overlay file %s is not an absolute path", runtime.ErrInvalid, runtime.Quote(path))
		}
	}
	return nil
}

// outputPath returns the absolute output file, with ".so".
func outputPath(path string) (string, error) {
	if path == "" {
		return "", errors.New("empty output path")
	}
	if !strings.HasSuffix(path, ".so") {
		path += ".so"
	}
	return filepath.Abs(path)
}

func (o Options) host() (*debug.BuildInfo, error) {
	switch {
	case o.IgnoreHost:
		return nil, nil
	case o.Host != nil:
		return o.Host, nil
	}
	bi, err := self.BuildInfo()
	if err != nil {
		return nil, runtime.WithHint(err, "set BuildOptions.Host, or IgnoreHost")
	}
	return bi, nil
}

// Settings returns the go build flags and the environment variables (over
// the inherited environment, later entries winning) with which Build
// builds: Host's settings, then Flags and Env.
func (o Options) Settings() (flags, env []string, err error) {
	host, err := o.host()
	if err != nil {
		return nil, nil, err
	}
	if host != nil {
		if flags, env, err = settings.Build(host); err != nil {
			return nil, nil, runtime.WithHint(err, "plugink passes a host's settings to go build only from an allowlist: rebuild the host without the setting, or, if you trust it, give it yourself (GOFLAGS, CGO_CFLAGS, ... in the environment of plugink build)")
		}
	}
	return append(flags, o.Flags...), append(env, o.Env...), nil
}

// Module is the main module a plugin is built in.
type Module struct {
	// Dir is its root directory.
	Dir string
	// Path is its module path.
	Path string
}

// goEnv is what Build needs from `go env`.
type goEnv struct {
	GOMOD, GOVERSION, CGO_ENABLED, CC string
}

// FindModule finds the main module of o.Dir and checks that the go
// command can build plugins there for the host: a module, cgo and a C
// compiler, the host's Go version.
func (o Options) FindModule(ctx context.Context) (*Module, error) {
	return o.findModule(ctx, true)
}

// Module finds the main module of o.Dir, as FindModule does, without the
// checks that the go command can build plugins there.
func (o Options) Module(ctx context.Context) (*Module, error) {
	return o.findModule(ctx, false)
}

func (o Options) findModule(ctx context.Context, canBuild bool) (*Module, error) {
	host, err := o.host()
	if err != nil {
		return nil, err
	}
	_, env, err := o.Settings()
	if err != nil {
		return nil, err
	}
	goCmd := gocmd.Cmd{Go: o.Go, Dir: o.Dir, Env: append(os.Environ(), env...)}
	if _, err := goCmd.Path(); err != nil {
		return nil, runtime.WithHint(fmt.Errorf("%w: %w", ErrNoToolchain, err), "install Go, or set BuildOptions.Go")
	}
	out, err := goCmd.Output(ctx, "env", "-json", "GOMOD", "GOVERSION", "CGO_ENABLED", "CC")
	if err != nil {
		return nil, err
	}
	var ge goEnv
	if err := json.Unmarshal(out, &ge); err != nil {
		return nil, fmt.Errorf("parse go env output: %w", err)
	}
	if err := ge.checkModule(o.Dir); err != nil {
		return nil, err
	}
	if canBuild {
		if err := ge.checkBuild(host); err != nil {
			return nil, err
		}
	}
	m := &Module{Dir: filepath.Dir(ge.GOMOD)}
	goCmd.Dir = m.Dir
	edit, err := goCmd.Output(ctx, "mod", "edit", "-json")
	if err != nil {
		return nil, err
	}
	var gomod struct{ Module struct{ Path string } }
	if err := json.Unmarshal(edit, &gomod); err != nil || gomod.Module.Path == "" {
		return nil, fmt.Errorf("%w: no module path in %s", ErrNotModule, ge.GOMOD)
	}
	m.Path = gomod.Module.Path
	return m, nil
}

// checkModule reports why the go command of ge finds no module in dir.
func (ge goEnv) checkModule(dir string) error {
	if dir == "" {
		dir = "the current directory"
	}
	switch {
	case ge.GOMOD == "":
		return runtime.WithHint(fmt.Errorf("%w: go env GOMOD is empty in %s", ErrNotModule, dir), "is GO111MODULE=off set?")
	case ge.GOMOD == os.DevNull:
		return runtime.WithHint(fmt.Errorf("%w: no go.mod in %s or above it", ErrNotModule, dir), "build in a directory of the module that imports the plugin (BuildOptions.Dir)")
	}
	return nil
}

// checkBuild reports why the go command of ge cannot build a plugin for
// host.
func (ge goEnv) checkBuild(host *debug.BuildInfo) error {
	switch {
	case ge.CGO_ENABLED != "1":
		return fmt.Errorf("%w: CGO_ENABLED=%s, and -buildmode=plugin needs cgo", ErrNoCgo, ge.CGO_ENABLED)
	}
	cc := strings.Fields(ge.CC)
	if len(cc) == 0 {
		return fmt.Errorf("%w: go env CC is empty", ErrNoCgo)
	}
	if _, err := exec.LookPath(cc[0]); err != nil {
		return runtime.WithHint(fmt.Errorf("%w: C compiler %q not found: %w", ErrNoCgo, cc[0], err), "-buildmode=plugin needs one: install gcc or clang, or set CC")
	}
	if host != nil && goVersion(host.GoVersion) != goVersion(ge.GOVERSION) {
		return runtime.WithHint(fmt.Errorf("%w: the go command is %s but the host was built with %s", ErrGoVersion, ge.GOVERSION, host.GoVersion),
			fmt.Sprintf("a plugin loads only into a host built by the same Go: set GOTOOLCHAIN=%s (or BuildOptions.Go)", goVersion(host.GoVersion)))
	}
	return nil
}

// goVersion returns the version in a go version string, without the
// experiments ("go1.26.8 X:foo" -> "go1.26.8").
func goVersion(v string) string {
	if f := strings.Fields(v); len(f) > 0 {
		return f[0]
	}
	return v
}

// compile writes src as the main package of the plugin into an overlay and
// builds it to out, with goCmd, which runs in the module's directory.
func (m *Module) compile(ctx context.Context, goCmd gocmd.Cmd, c *runtime.Config, src []byte, out string, flags []string, o Options) (args []string, output string, err error) {
	rel := layout.MainPackageDir(c, o.Generation)
	pkgDir := filepath.Join(m.Dir, filepath.FromSlash(rel))
	if _, err := os.Stat(pkgDir); err == nil {
		return nil, "", runtime.WithHint(fmt.Errorf("%s exists", pkgDir), "Build compiles the plugin's generated main package as this directory (through -overlay), so it must not exist on disk")
	}
	tmp, err := os.MkdirTemp("", "plugink-build-")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(tmp)
	mainFile := filepath.Join(tmp, "main.go")
	replace := map[string]string{filepath.Join(pkgDir, "main.go"): mainFile}
	files := []fsx.File{{Path: mainFile, Data: src}}
	for i, path := range slices.Sorted(maps.Keys(o.Overlay)) {
		file := filepath.Join(tmp, fmt.Sprintf("overlay%d%s", i, filepath.Ext(path)))
		replace[path] = file
		files = append(files, fsx.File{Path: file, Data: o.Overlay[path]})
	}
	overlay, _ := json.Marshal(map[string]map[string]string{"Replace": replace}) // strings only: cannot fail
	overlayFile := filepath.Join(tmp, "overlay.json")
	if err := fsx.WriteFiles(append(files, fsx.File{Path: overlayFile, Data: overlay})...); err != nil {
		return nil, "", err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, "", err
	}
	// go build will not write over a file that is not an object file, so
	// the temporary output is a new name in a temporary directory next to
	// out (the same file system, for the rename).
	tmpOut, err := os.MkdirTemp(filepath.Dir(out), ".plugink-build-")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(tmpOut)
	built := filepath.Join(tmpOut, filepath.Base(out))
	args = append([]string{"build", "-buildmode=plugin", "-overlay=" + overlayFile, "-o", built}, flags...)
	args = append(args, "./"+rel)
	if o.Verbose != nil {
		fmt.Fprintf(o.Verbose, "cd %s\ngo %s\n", goCmd.Dir, strings.Join(args, " "))
		goCmd.Echo = o.Verbose
	}
	combined, err := goCmd.Combined(ctx, args...)
	output = nameGenerated(string(combined), mainFile, m.Dir, filepath.FromSlash(rel+"/main.go"))
	if err != nil && ctx.Err() != nil {
		return args, output, fmt.Errorf("go build stopped: %w", ctx.Err())
	}
	if err != nil {
		return args, output, fmt.Errorf("%w (%w) in module %s (%s); %s is the plugin's main package, generated from the Config",
			ErrCompile, err, m.Path, m.Dir, rel)
	}
	if err := os.Rename(built, out); err != nil {
		return args, output, err
	}
	return args, output, nil
}

// nameGenerated replaces, in the go command's output, the temporary file
// that stands in for the generated main package (and is gone when Build
// returns) by the name the go command compiles it under. The go command
// prints the file's path absolute, or relative to dir when that is
// shorter.
func nameGenerated(output, tmpFile, dir, name string) string {
	olds := []string{tmpFile}
	if rel, err := filepath.Rel(dir, tmpFile); err == nil {
		olds = append(olds, rel)
	}
	for _, old := range olds {
		output = strings.ReplaceAll(output, old, name)
	}
	return output
}
