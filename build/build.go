package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/internal/execbuild"
	"github.com/plugink/plugink/internal/fsx"
	"github.com/plugink/plugink/internal/gocmd"
	"github.com/plugink/plugink/internal/layout"
	"github.com/plugink/plugink/internal/pluginbuild"
	"github.com/plugink/plugink/internal/self"
	"github.com/plugink/plugink/internal/signature"
	"github.com/plugink/plugink/internal/sums"
	"github.com/plugink/plugink/loader"
)

// Options says how [Plugins] builds a manifest's plugins.
type Options struct {
	// Names selects plugins by name ("brpc": that name in every kind) or by
	// kind and name ("client/brpc"); empty means every enabled plugin.
	Names []string
	// Jobs bounds how many plugins build at once; 0 means GOMAXPROCS.
	Jobs int
	// Force rebuilds plugins whose inputs did not change.
	Force bool
	// Host is the program the plugins are for: they are built with its
	// settings (loader.BuildOptions.Host), and every output, built or
	// kept, is checked against it (loader.Preflight); one that would not
	// load into it is a failure. Without a Host (and without
	// Loader.Host), plugins are built with the go command's defaults,
	// GOFLAGS included: the settings of a plain go build. The packages it
	// links (Host.Packages) are those a generation shares with it, not
	// copies; without a Host, go list says which they are.
	Host *loader.Host
	// Loader is passed to loader.Build; its Dir and SumFile are set by
	// Plugins (the manifest's directory, and plugink.sum in the plugin
	// directory). Flags and Env add to the settings.
	Loader loader.BuildOptions
	// HostSource is the directory of the host's main module, for a host
	// built from a directory ("(devel)"): an out-of-module build (the
	// plugins' module is not the host's) builds the host's modules from it
	// where they cannot be fetched by version.
	HostSource string
	// Tags are the build tags to type-check the plugins with, as gen does.
	Tags []string
	// Progress, if set, is called once per plugin as it finishes, and
	// once per file it removes.
	Progress func(Result)
	// Started, if set, is called as the build of a plugin starts, once
	// its cache check found it must build (not for a plugin kept); never
	// at once with itself or Progress.
	Started func(*gen.PluginDecl)
	// Warn, if set, is called with what is worth knowing but not an
	// error: generated files out of date.
	Warn func(string)
	// Process builds an executable for every plugin whose kind can cross
	// a process, for a host built with -tags plugink_process; a plugin
	// with mode: process is built as one in any case.
	Process bool
	// Sign, if set, is a private key file (from [GenerateKey], plugink
	// keygen) to sign each plugin file with, built or kept: its
	// signature goes beside it, <file>.sig, written atomically; a kept
	// file whose .sig is not this key's signature of its bytes (missing,
	// unreadable, another key's, another file's) is signed again, not
	// rebuilt. Without Sign, the .sig of a file rebuilt is removed (a
	// stale signature never survives a rebuild), that of a kept file is
	// left alone.
	Sign string
}

// Result is the outcome of building one plugin, or of removing the file
// of a plugin the manifest no longer lists.
type Result struct {
	// Plugin is the manifest's entry; nil for a removed file.
	Plugin *gen.PluginDecl
	// Removed is true for a file removed: its plugin is no longer in the
	// manifest, or disabled.
	Removed bool
	// File is the .so's path.
	File string
	// Cached is true when the inputs had not changed and the file was kept.
	Cached bool
	// SignedBy is the ID of the key that signed File (Options.Sign), ""
	// if none did.
	SignedBy string
	// SigChanged is true when the build wrote File's .sig (Options.Sign)
	// or removed the stale one of a rebuilt file (no Options.Sign).
	SigChanged bool
	// Duration is how long the plugin took, including the cache check.
	Duration time.Duration
	// Err is why the build failed, or nil.
	Err error
}

// PluginDir returns the directory of m's plugin files at build time: the
// manifest's dynamic.dir, relative to the manifest's directory.
func PluginDir(m *gen.Manifest) string {
	return filepath.Join(filepath.Dir(m.File), filepath.FromSlash(m.DynamicDir))
}

// Plugins builds the manifest's enabled plugins (or those o.Names selects)
// into PluginDir(m)/<type>_<name>.so inside the manifest directory's module
// graph, in parallel, records each file's SHA-256 in plugink.sum beside
// them, and with o.Sign signs each (<file>.sig). A plugin whose inputs did not change since its last build is kept
// (Cached): the key covers plugink's and Go's versions, the go environment
// and build options, go.mod/go.sum/go.work(.sum), the Config, and the
// contents of every non-standard package the plugin's package depends on
// from the main module, the workspace or a directory replacement (other
// modules are pinned by version and go.sum), and which of them are copied.
// Each build is a generation of the plugin that a process can load beside
// the others: its pluginpath is <module>/_plugink/<type>/<name>/g<15 hex
// digits of the key>, and the plugin's package and the packages it imports
// from the main module that the host does not link (o.Host's packages, or
// those the manifest's package and the kinds' packages import with the
// dynamic host's tag) are compiled as copies of their own under that path,
// except packages with cgo, assembly or .syso files and what they import.
// The error joins every failure.
func Plugins(ctx context.Context, m *gen.Manifest, o Options) ([]Result, error) {
	plugins, err := selectPlugins(m, o.Names)
	if err != nil {
		return nil, err
	}
	procs, plugins, checked, err := execbuild.Split(ctx, m, plugins, o.Process, o.Tags)
	if err != nil {
		return nil, err
	}
	sign, err := signature.ReadSigner(o.Sign)
	if err != nil {
		return nil, err
	}
	if o.Host != nil {
		if err := o.Host.CheckCanLoad(); err != nil {
			return nil, fmt.Errorf("%s: %w", o.Host.Path, err)
		}
	}
	pin, err := o.pin(ctx, m)
	if err != nil {
		return nil, err
	}
	defer pin.cleanup()
	stale, err := checkManifest(ctx, m, o, pin)
	if err != nil {
		return nil, err
	}
	dir := PluginDir(m)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("plugin directory: %w", err)
	}
	bo := o.loaderOptions(m, dir, pin)
	var mod *pluginbuild.Module
	if len(plugins) > 0 {
		if mod, err = bo.FindModule(ctx); err != nil { // once for every plugin
			return nil, soFiles(plugins, procs, err)
		}
	}
	plans, err := planBuilds(ctx, m, o.Host, bo, mod, plugins)
	if err != nil {
		return nil, err
	}
	results := make([]Result, len(plugins))
	var mu sync.Mutex
	report := func(r Result) {
		if o.Progress != nil {
			mu.Lock()
			o.Progress(r)
			mu.Unlock()
		}
	}
	if started := o.Started; started != nil {
		o.Started = func(p *gen.PluginDecl) {
			mu.Lock()
			defer mu.Unlock()
			started(p)
		}
	}
	forEach(len(plugins), o.Jobs, func(i int) {
		p := plugins[i]
		results[i] = buildOne(ctx, p, filepath.Join(dir, p.FileName()), plans[p], bo, o, sign)
		report(results[i])
	})
	if len(procs) > 0 {
		results = append(executables(ctx, checked, procs, dir, bo.SumFile, o, sign, report), results...)
	}
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	if len(o.Names) == 0 && len(errs) == 0 && stale && o.Warn != nil {
		o.Warn(fmt.Sprintf("%s: the files of plugins no longer in %s are kept while the generated files are out of date: a host built from them may still load them", filepath.Dir(m.File), filepath.Base(m.File)))
	}
	if len(o.Names) == 0 && len(errs) == 0 && !stale {
		removed, err := prune(m, dir, bo.SumFile)
		for _, r := range removed {
			report(r)
		}
		results, errs = append(results, removed...), append(errs, err)
	}
	return results, errors.Join(errs...)
}

// pin prepares an out-of-module build for o.Host (see pinToHost); nil for
// a build in the host's module, or without a host.
func (o Options) pin(ctx context.Context, m *gen.Manifest) (*pinning, error) {
	if o.Host == nil {
		return nil, nil
	}
	goCmd := gocmd.Cmd{Go: o.Loader.Go, Dir: filepath.Dir(m.File), Env: append(os.Environ(), o.Loader.Env...)}
	hostSrc := o.HostSource
	if hostSrc != "" {
		var err error
		if hostSrc, err = filepath.Abs(hostSrc); err != nil {
			return nil, err
		}
	}
	return pinToHost(ctx, goCmd, o.Host.BuildInfo, hostSrc)
}

// loaderOptions returns the options of loader.Build for m's plugins.
func (o Options) loaderOptions(m *gen.Manifest, dir string, pin *pinning) loader.BuildOptions {
	bo := o.Loader
	bo.Dir = filepath.Dir(m.File)
	bo.SumFile = filepath.Join(dir, sums.FileName)
	if pin != nil {
		bo.Flags = append(slices.Clone(bo.Flags), pin.flags...)
		bo.Env = append(slices.Clone(bo.Env), pin.env...)
	}
	switch {
	case o.Host != nil:
		bo.Host = o.Host.BuildInfo
	case bo.Host == nil:
		bo.IgnoreHost = true
	}
	return bo
}

// checkManifest makes the checks gen makes (every plugin's package loads,
// its constructor exists and has its kind's type), and reports (and
// warns) if the generated files are not what gen would write now.
func checkManifest(ctx context.Context, m *gen.Manifest, o Options, pin *pinning) (stale bool, err error) {
	opts := gen.Options{Dir: filepath.Dir(m.File), Manifest: m.File, Tags: o.Tags}
	if pin != nil {
		opts.BuildFlags, opts.Env = pin.flags, pin.env
	}
	ch, err := gen.Check(ctx, m, opts)
	if err != nil {
		return false, err
	}
	files, err := gen.Emit(ctx, ch, opts)
	if errors.Is(err, gen.ErrNoHostPackage) {
		return false, nil // a manifest only to build plugins from: nothing generated to compare
	}
	if err != nil {
		return false, err
	}
	old, err := gen.Stale(files)
	if err != nil || len(old) == 0 || o.Warn == nil {
		return len(old) > 0, err
	}
	var names []string
	for _, f := range old {
		names = append(names, filepath.Base(f.Path))
	}
	what := "the generated files " + strings.Join(names, ", ") + " differ"
	if len(names) == 1 {
		what = "the generated file " + names[0] + " differs"
	}
	o.Warn(fmt.Sprintf("%s: %s from what plugink gen writes now (the manifest, the kinds' code or plugink changed): a host built from them may not fit the plugins built now; run go generate (plugink gen)",
		m.File, what))
	return true, nil
}

// forEach calls f(0) ... f(n-1), at most jobs at once (GOMAXPROCS if jobs
// is 0 or less), and waits for them.
func forEach(n, jobs int, f func(i int)) {
	if jobs <= 0 {
		jobs = goruntime.GOMAXPROCS(0)
	}
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			f(i)
		})
	}
	wg.Wait()
}

func selectPlugins(m *gen.Manifest, names []string) ([]*gen.PluginDecl, error) {
	enabled := m.Enabled()
	if len(names) == 0 {
		return enabled, nil
	}
	var out []*gen.PluginDecl
	var unknown []string
	for _, n := range names {
		found := false
		for _, p := range enabled {
			if p.Name == n || p.String() == n {
				found = true
				if !slices.Contains(out, p) {
					out = append(out, p)
				}
			}
		}
		if !found {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		var have []string
		for _, p := range enabled {
			have = append(have, p.String())
		}
		return nil, fmt.Errorf("%s: no enabled plugin named %s (plugins: %s)", m.File, strings.Join(unknown, ", "), strings.Join(have, ", "))
	}
	return out, nil
}

// buildOne builds p into file as pl says (a generation of its own), unless
// it is up to date, and signs it with sign, if set (see signFile).
func buildOne(ctx context.Context, p *gen.PluginDecl, file string, pl *plan, bo loader.BuildOptions, o Options, sign *signature.Signer) (r Result) {
	start := time.Now()
	r = Result{Plugin: p, File: file}
	defer func() { r.Duration = time.Since(start) }()
	keyFile := keyFileOf(file)
	var sum string // the file's SHA-256, as verified or built
	if !o.Force {
		sum, r.Cached = upToDate(file, keyFile, pl.key, bo.SumFile)
	}
	if !r.Cached {
		if err := ctx.Err(); err != nil {
			r.Err = err
			return r
		}
		if o.Started != nil {
			o.Started(p)
		}
		var err error
		bo.Generation = pl.generation
		if bo.Import, bo.Overlay, err = pl.copies(p); err != nil {
			r.Err = fmt.Errorf("%s: plugin %s: %w", p.Pos, p, err)
			return r
		}
		c := p.Config
		if _, sum, err = bo.Build(ctx, file, &c, pl.module); err != nil {
			r.Err = fmt.Errorf("%s: plugin %s: %w", p.Pos, p, err)
			return r
		}
		if err := fsx.WriteFiles(fsx.File{Path: keyFile, Data: []byte(pl.key + "\n")}); err != nil {
			r.Err = err
			return r
		}
	}
	var err error
	if r.SigChanged, err = signature.SignFile(file, sum, sign, !r.Cached); err != nil {
		r.Err = fmt.Errorf("%s: plugin %s: %w", p.Pos, p, err)
		return r
	}
	if sign != nil {
		r.SignedBy = sign.ID
	}
	if o.Host != nil {
		if err := loader.Preflight(file, o.Host); err != nil {
			r.Err = fmt.Errorf("%s: plugin %s: the file would not load into %s: %w", p.Pos, p, o.Host.Path, err)
		}
	}
	return r
}

// keyFileOf returns the cache key file of the plugin file.
func keyFileOf(file string) string {
	return filepath.Join(filepath.Dir(file), "."+filepath.Base(file)+".key")
}

// upToDate reports whether file was built from key and still has the
// checksum recorded for it, and returns that checksum.
func upToDate(file, keyFile, key, sumFile string) (string, bool) {
	old, err := fsx.ReadFile(keyFile, 1024)
	if err != nil || strings.TrimSpace(string(old)) != key {
		return "", false
	}
	s, err := sums.Read(sumFile)
	if err != nil || s.Verify(file) != nil {
		return "", false
	}
	sum, _ := s.Lookup(file)
	return sum, true
}

// listedPackage is what planBuilds reads from go list.
type listedPackage struct {
	ImportPath                                       string
	Dir                                              string
	Standard                                         bool
	Deps                                             []string
	Module                                           *packageModule
	GoFiles, CgoFiles                                []string
	CFiles, CXXFiles, MFiles, HFiles, FFiles, SFiles []string
	SwigFiles, SwigCXXFiles, SysoFiles, EmbedFiles   []string
}

// packageModule is the module of a listedPackage.
type packageModule struct {
	Path, Version, GoMod, Dir string
	Main                      bool
	Replace                   *struct{ Path, Version string }
}

// goFiles returns the names of the Go files of p that the build compiles.
func (p *listedPackage) goFiles() []string {
	return slices.Concat(p.GoFiles, p.CgoFiles)
}

// otherFiles returns the names of the other files of p that the build
// reads, relative to its directory, slash-separated.
func (p *listedPackage) otherFiles() []string {
	return slices.Concat(p.CFiles, p.CXXFiles, p.MFiles, p.HFiles, p.FFiles, p.SFiles,
		p.SwigFiles, p.SwigCXXFiles, p.SysoFiles, p.EmbedFiles)
}

// planBuilds makes every plugin's plan: its cache key, generation and
// copies, with one go env and two go list calls. The key covers plugink's version, the effective build
// settings (however they were given: flags, GOFLAGS, a host binary), the
// module and workspace files, the Config, the plugin's packages, and which
// of them its generation copies, which depends on what the host links
// (host, or the manifest's host package; see hostLinks).
func planBuilds(ctx context.Context, m *gen.Manifest, host *loader.Host, bo loader.BuildOptions, mod *pluginbuild.Module, plugins []*gen.PluginDecl) (map[*gen.PluginDecl]*plan, error) {
	if len(plugins) == 0 {
		return nil, nil
	}
	flags, env, err := bo.Settings()
	if err != nil {
		return nil, err
	}
	goCmd := gocmd.Cmd{Go: bo.Go, Dir: bo.Dir, Env: append(os.Environ(), env...)}
	goEnv, err := goCmd.Output(ctx, append([]string{"env", "-json"}, envSettings...)...)
	if err != nil {
		return nil, err
	}
	settings, err := effectiveSettings(goEnv, flags, env)
	if err != nil {
		return nil, err
	}
	var where struct{ GOMODCACHE, GOMOD string }
	if err := json.Unmarshal(goEnv, &where); err != nil {
		return nil, fmt.Errorf("parse go env output: %w", err)
	}
	paths := make([]string, 0, len(plugins))
	for _, p := range plugins {
		paths = append(paths, p.Path)
	}
	var listFlags []string // what changes the packages go list sees
	for _, f := range flags {
		if strings.HasPrefix(f, "-modfile=") || strings.HasPrefix(f, "-mod=") || strings.HasPrefix(f, "-tags=") {
			listFlags = append(listFlags, f)
		}
	}
	var links map[string]bool
	var linksErr error
	var wg sync.WaitGroup
	wg.Go(func() { links, linksErr = hostLinks(ctx, goCmd, listFlags, settingOf(settings, "-tags"), m, host) })
	pkgs, err := listDeps(ctx, goCmd, append(listFlags, paths...))
	wg.Wait()
	if err = errors.Join(err, linksErr); err != nil {
		return nil, err
	}
	base, err := commonKey(settings, flags)
	if err != nil {
		return nil, err
	}
	plans := map[*gen.PluginDecl]*plan{}
	for _, p := range plugins {
		pl := &plan{module: mod, renamed: renamed(p.Path, pkgs, mod, links)}
		if pl.key, err = pluginKey(base, p, pkgs, where.GOMODCACHE, pl.renamed); err != nil {
			return nil, err
		}
		pl.generation = layout.Generation(pl.key)
		plans[p] = pl
	}
	return plans, nil
}

// commonKey is what every plugin's cache key starts from: plugink's
// version, the effective settings, and the module and workspace files (a
// pinning's go.mod and go.sum among the flags, GOMOD's and GOWORK's).
func commonKey(settings string, flags []string) ([]byte, error) {
	common := sha256.New()
	fmt.Fprintf(common, "plugink %s\n%s\n", self.PluginkVersion(), settings)
	var err error
	for _, f := range flags {
		if mod, ok := strings.CutPrefix(f, "-modfile="); ok { // a pinning's go.mod and go.sum
			err = errors.Join(err, hashFile(common, mod), hashFile(common, strings.TrimSuffix(mod, ".mod")+".sum"))
		}
	}
	for _, line := range strings.Split(settings, "\n") {
		switch k, f, _ := strings.Cut(line, "="); {
		case k == "GOMOD" && filepath.IsAbs(f): // go.mod and go.sum
			err = errors.Join(err, hashFile(common, f), hashFile(common, strings.TrimSuffix(f, ".mod")+".sum"))
		case k == "GOWORK" && filepath.IsAbs(f): // go.work and go.work.sum
			err = errors.Join(err, hashFile(common, f), hashFile(common, f+".sum"))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cache key: %w", err)
	}
	return common.Sum(nil), nil
}

// listDeps runs go list -deps -json with args (flags, then packages) and
// returns the packages by import path.
func listDeps(ctx context.Context, goCmd gocmd.Cmd, args []string) (map[string]*listedPackage, error) {
	out, err := goCmd.Output(ctx, append([]string{"list", "-deps", "-json"}, args...)...)
	if err != nil {
		return nil, err
	}
	pkgs := map[string]*listedPackage{}
	if err := decodeEach(out, "go list", func(p *listedPackage) { pkgs[p.ImportPath] = p }); err != nil {
		return nil, err
	}
	return pkgs, nil
}

// decodeEach decodes the JSON values that cmd (a go list command) printed
// one after another in out, and hands each to add.
func decodeEach[T any](out []byte, cmd string, add func(*T)) error {
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		v := new(T)
		if err := dec.Decode(v); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("read %s output: %w", cmd, err)
		}
		add(v)
	}
}

// pluginKey is p's cache key: base, p's Config, the packages it depends on
// (see hashPackage; modCache is GOMODCACHE), and which of them its
// generation copies (renamed).
func pluginKey(base []byte, p *gen.PluginDecl, pkgs map[string]*listedPackage, modCache string, renamed []*listedPackage) (string, error) {
	root := pkgs[p.Path]
	if root == nil {
		return "", fmt.Errorf("%s: plugin %s: go list did not report package %s", p.Pos, p, p.Path)
	}
	h := sha256.New()
	h.Write(base)
	fmt.Fprintf(h, "config %s %s %s %s\n", p.Name, p.Type, p.Path, p.Func())
	for _, path := range append([]string{p.Path}, root.Deps...) {
		if err := hashPackage(h, pkgs[path], modCache); err != nil {
			return "", fmt.Errorf("%s: plugin %s: cache key: %w", p.Pos, p, err)
		}
	}
	for _, r := range renamed {
		fmt.Fprintf(h, "copy %s\n", r.ImportPath)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashPackage adds a package to h: its module version if it comes from a
// versioned module and its files from the module cache (modCache), where
// they cannot change; else the contents of its source files (a vendored
// copy, a directory replacement, the main module).
func hashPackage(h io.Writer, p *listedPackage, modCache string) error {
	if p == nil || p.Standard {
		return nil
	}
	fmt.Fprintf(h, "package %s\n", p.ImportPath)
	inCache := modCache != "" && strings.HasPrefix(p.Dir, filepath.Clean(modCache)+string(filepath.Separator))
	if m := p.Module; inCache && m != nil && !m.Main && (m.Replace == nil || m.Replace.Version != "") && m.Version != "" {
		fmt.Fprintf(h, "module %s %s\n", m.Path, m.Version)
		return nil
	}
	for _, f := range slices.Concat(p.goFiles(), p.otherFiles()) {
		fmt.Fprintf(h, "file %s\n", f)
		if err := hashFile(h, filepath.Join(p.Dir, filepath.FromSlash(f))); err != nil {
			return err
		}
	}
	return nil
}

// hashFile adds the contents of the file at path to h, or a line saying it
// does not exist.
func hashFile(h io.Writer, path string) error {
	f, _, err := fsx.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(h, "absent %s\n", filepath.Base(path))
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}
