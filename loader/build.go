package loader

import (
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"

	"github.com/plugink/plugink/gen/emit"
	"github.com/plugink/plugink/runtime"
)

// BuildOptions says how [Loader.Build] builds a plugin. The zero value
// builds in the current directory's module with this program's settings.
type BuildOptions struct {
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
	// [ReadBuildInfo] reads another binary's.
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
}

// ReadBuildInfo returns the Go build information of the binary at path, for
// [BuildOptions.Host] or [Preflight], so that plugins can be built for and
// checked against a program other than the one running.
func ReadBuildInfo(path string) (*debug.BuildInfo, error) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("plugink: read build info of %s: %w", path, err)
	}
	return bi, nil
}

// pluginDir is the directory, relative to the module root, under which
// Build places the generated main package of each plugin — only in the go
// command's view, through -overlay: nothing is written there.
const pluginDir = "_plugink"

// Build compiles a plugin for c into path, appending ".so" if path lacks
// it. c.NewFunc must be the name of the constructor (a string such as
// "NewClient"), exported by the package at c.Path; a func value, the form
// Load returns, is refused.
//
// Build generates the plugin's main package (see emit.PluginMain) and runs
// go build -buildmode=plugin inside the module of [BuildOptions.Dir], as
// the package <module>/_plugink/<type>/<name>. The package exists only in
// the go command's view (-overlay), so nothing is written into the module;
// its import path is the plugin's pluginpath, which is therefore the same
// for every build of one (type, name) in a module, and different for
// different ones. The output is written to a temporary file next to path
// and renamed over it, so that builds may run in parallel, even of the
// same plugin into the same file.
//
// By default the plugin is built with this program's settings, so that
// this program can load it. Errors are *[BuildError]s; a failed compilation
// carries the compiler's output.
func (l *Loader) Build(path string, c *runtime.Config) error {
	out, sum, err := l.build.run(path, c)
	if err != nil {
		return err
	}
	l.mu.Lock()
	if l.sums != nil {
		l.sums[out] = sum
	}
	l.mu.Unlock()
	return nil
}

// run builds the plugin and returns the output's absolute path and
// checksum.
func (o BuildOptions) run(path string, c *runtime.Config) (out, sum string, err error) {
	be := &BuildError{Plugin: c.String(), Path: path}
	fail := func(err error) (string, string, error) {
		be.Err = err
		return "", "", be
	}
	newFunc, err := buildConfig(c)
	if err != nil {
		return fail(err)
	}
	src, err := emit.PluginMain(emit.PluginMainSpec{Name: c.Name, Type: c.Type, Path: c.Path, NewFunc: newFunc, Version: Version()})
	if err != nil {
		return fail(fmt.Errorf("%w: %w", runtime.ErrInvalid, err))
	}
	if out, err = outputPath(path); err != nil {
		return fail(err)
	}
	be.Path = out
	host, err := o.host()
	if err != nil {
		return fail(err)
	}
	goCmd, err := o.goCommand()
	if err != nil {
		return fail(err)
	}
	var flags, env []string
	if host != nil {
		flags, env = hostSettings(host)
	}
	// Later entries win: the environment, then Host's settings, then Env.
	env = append(append(os.Environ(), env...), o.Env...)
	mod, err := o.module(goCmd, env, host)
	if err != nil {
		return fail(err)
	}
	args, output, err := mod.compile(goCmd, env, c, src, out, append(flags, o.Flags...))
	if err != nil {
		be.Args, be.Output, be.Source = args, output, src
		return fail(err)
	}
	if sum, err = FileSum(out); err != nil {
		return fail(err)
	}
	if o.SumFile != "" {
		if err := recordSum(o.SumFile, out, sum); err != nil {
			return fail(fmt.Errorf("record checksum in %s: %w", o.SumFile, err))
		}
	}
	return out, sum, nil
}

// buildConfig checks the Config given to Build and returns NewFunc's name.
func buildConfig(c *runtime.Config) (string, error) {
	if c == nil {
		return "", fmt.Errorf("%w: nil *runtime.Config", runtime.ErrInvalid)
	}
	newFunc, ok := c.NewFunc.(string)
	if !ok {
		got := "nil"
		if c.NewFunc != nil {
			got = "a value of type " + reflect.TypeOf(c.NewFunc).String()
		}
		return "", fmt.Errorf("%w: Build takes Config.NewFunc as the name of the constructor (a string such as \"NewClient\"), not %s; a func value is the form Load returns", runtime.ErrInvalid, got)
	}
	if !validBuildName(c.Name) {
		return "", fmt.Errorf("%w: plugin name %q cannot name a package directory: use letters, digits, '.', '_' and '-', not starting with '.'", runtime.ErrInvalid, c.Name)
	}
	return newFunc, nil
}

func validBuildName(s string) bool {
	if s == "" || s[0] == '.' {
		return false
	}
	for _, r := range s {
		if !(r == '.' || r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
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

func (o BuildOptions) host() (*debug.BuildInfo, error) {
	switch {
	case o.IgnoreHost:
		return nil, nil
	case o.Host != nil:
		return o.Host, nil
	}
	bi, err := hostBuildInfo()
	if err != nil {
		return nil, fmt.Errorf("%w (or set BuildOptions.Host or IgnoreHost)", err)
	}
	return bi, nil
}

func (o BuildOptions) goCommand() (string, error) {
	name := o.Go
	if name == "" {
		name = "go"
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%w: %w (install Go, or set BuildOptions.Go)", ErrNoToolchain, err)
	}
	return p, nil
}

// hostSettings turns the build settings recorded in bi into go build flags
// and environment variables that reproduce them.
func hostSettings(bi *debug.BuildInfo) (flags, env []string) {
	for _, key := range []string{"-trimpath", "-race", "-msan", "-asan", "-cover"} {
		flags = append(flags, key+"="+settingValue(bi, key))
	}
	flags = append(flags, "-tags="+setting(bi, "-tags"))
	for _, key := range []string{"-gcflags", "-asmflags"} {
		if v := setting(bi, key); v != "" {
			flags = append(flags, key+"="+v)
		}
	}
	if v := setting(bi, "-pgo"); v != "" {
		if _, err := os.Stat(v); err == nil {
			flags = append(flags, "-pgo="+v)
		}
	}
	keys := append([]string{"CGO_ENABLED", "CGO_CFLAGS", "CGO_CPPFLAGS", "CGO_CXXFLAGS", "CGO_LDFLAGS", "GOOS", "GOARCH", "GOFIPS140"}, archSettings...)
	for _, key := range keys {
		if v := setting(bi, key); v != "" {
			env = append(env, key+"="+v)
		}
	}
	env = append(env, "GOEXPERIMENT="+setting(bi, "GOEXPERIMENT"))
	return flags, env
}

// module is the main module a plugin is built in.
type module struct {
	dir  string // root directory
	path string // module path
}

// goEnv is what Build needs from `go env`.
type goEnv struct {
	GOMOD, GOWORK, GOVERSION, CGO_ENABLED, CC string
}

// module finds the main module of o.Dir and checks that the go command can
// build plugins for host.
func (o BuildOptions) module(goCmd string, env []string, host *debug.BuildInfo) (*module, error) {
	out, err := runGo(goCmd, o.Dir, env, "env", "-json", "GOMOD", "GOWORK", "GOVERSION", "CGO_ENABLED", "CC")
	if err != nil {
		return nil, err
	}
	var ge goEnv
	if err := json.Unmarshal(out, &ge); err != nil {
		return nil, fmt.Errorf("parse go env output: %w", err)
	}
	dir := o.Dir
	if dir == "" {
		dir = "the current directory"
	}
	switch {
	case ge.GOMOD == "":
		return nil, fmt.Errorf("%w: go env GOMOD is empty in %s (GO111MODULE=off?)", ErrNotModule, dir)
	case ge.GOMOD == os.DevNull:
		return nil, fmt.Errorf("%w: no go.mod in %s or above it (set BuildOptions.Dir to a directory of the module that imports the plugin)", ErrNotModule, dir)
	case ge.CGO_ENABLED != "1":
		return nil, fmt.Errorf("%w: CGO_ENABLED=%s, and -buildmode=plugin needs cgo", ErrNoCgo, ge.CGO_ENABLED)
	}
	cc := strings.Fields(ge.CC)
	if len(cc) == 0 {
		return nil, fmt.Errorf("%w: go env CC is empty", ErrNoCgo)
	}
	if _, err := exec.LookPath(cc[0]); err != nil {
		return nil, fmt.Errorf("%w: C compiler %q not found (%w); -buildmode=plugin needs one (install gcc or clang, or set CC)", ErrNoCgo, cc[0], err)
	}
	if host != nil && goVersion(host.GoVersion) != goVersion(ge.GOVERSION) {
		return nil, fmt.Errorf("%w: the go command is %s but the host was built with %s, so it could not load the plugin (set BuildOptions.Go, or GOTOOLCHAIN=%s)",
			ErrGoVersion, ge.GOVERSION, host.GoVersion, goVersion(host.GoVersion))
	}
	m := &module{dir: filepath.Dir(ge.GOMOD)}
	edit, err := runGo(goCmd, m.dir, env, "mod", "edit", "-json")
	if err != nil {
		return nil, err
	}
	var gomod struct{ Module struct{ Path string } }
	if err := json.Unmarshal(edit, &gomod); err != nil || gomod.Module.Path == "" {
		return nil, fmt.Errorf("%w: no module path in %s", ErrNotModule, ge.GOMOD)
	}
	m.path = gomod.Module.Path
	return m, nil
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
// builds it to out.
func (m *module) compile(goCmd string, env []string, c *runtime.Config, src []byte, out string, flags []string) (args []string, output string, err error) {
	rel := pluginDir + "/" + c.Type + "/" + c.Name
	pkgDir := filepath.Join(m.dir, filepath.FromSlash(rel))
	if _, err := os.Stat(pkgDir); err == nil {
		return nil, "", fmt.Errorf("%s exists; Build uses this directory for the plugin's generated main package (through -overlay), so it must not exist on disk", pkgDir)
	}
	tmp, err := os.MkdirTemp("", "plugink-build-")
	if err != nil {
		return nil, "", err
	}
	defer os.RemoveAll(tmp)
	mainFile := filepath.Join(tmp, "main.go")
	if err := os.WriteFile(mainFile, src, 0o644); err != nil {
		return nil, "", err
	}
	overlay, err := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(pkgDir, "main.go"): mainFile}})
	if err != nil {
		return nil, "", err
	}
	overlayFile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
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

	args = append([]string{goCmd, "build", "-buildmode=plugin", "-overlay=" + overlayFile, "-o", built}, flags...)
	args = append(args, "./"+rel)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir, cmd.Env = m.dir, env
	combined, err := cmd.CombinedOutput()
	// Name the generated file as the go command sees it, not by the
	// temporary file that stands in for it (and is gone when Build returns).
	combined = bytes.ReplaceAll(combined, []byte(mainFile), []byte(filepath.FromSlash(rel+"/main.go")))
	if err != nil {
		return args, string(combined), fmt.Errorf("%w (%w) in module %s (%s); %s is the plugin's main package, generated from the Config",
			ErrCompile, err, m.path, m.dir, rel)
	}
	if err := os.Rename(built, out); err != nil {
		return args, string(combined), err
	}
	return args, string(combined), nil
}

// runGo runs the go command and returns its standard output; an error
// carries its standard error.
func runGo(goCmd, dir string, env []string, args ...string) ([]byte, error) {
	cmd := exec.Command(goCmd, args...)
	cmd.Dir, cmd.Env = dir, env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Version returns the version of plugink linked into this program,
// recorded in the plugins Build makes.
func Version() string {
	const path = "github.com/plugink/plugink"
	bi, err := hostBuildInfo()
	if err != nil {
		return ""
	}
	for _, m := range modules(bi) {
		if m.Path == path {
			if m.Replace != nil && m.Replace.Version != "" {
				return m.Replace.Version
			}
			return m.Version
		}
	}
	return ""
}
