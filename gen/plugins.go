package gen

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/plugink/plugink/loader"
	"github.com/plugink/plugink/runtime"
)

// BuildOptions says how [BuildPlugins] builds a manifest's plugins.
type BuildOptions struct {
	// Names selects plugins by name ("brpc": that name in every kind) or by
	// kind and name ("client/brpc"); empty means every enabled plugin.
	Names []string
	// Jobs bounds how many plugins build at once; 0 means GOMAXPROCS.
	Jobs int
	// Force rebuilds plugins whose inputs did not change.
	Force bool
	// Loader is passed to loader.Build; its Dir and SumFile are set by
	// BuildPlugins (the manifest's directory, and plugink.sum in the plugin
	// directory). Set Host, Flags or Env to match the host program.
	Loader loader.BuildOptions
	// Progress, if set, is called once per plugin as it finishes.
	Progress func(BuildResult)
}

// BuildResult is the outcome of building one plugin.
type BuildResult struct {
	// Plugin is the manifest's entry.
	Plugin *PluginDecl
	// File is the .so's path.
	File string
	// Cached is true when the inputs had not changed and the file was kept.
	Cached bool
	// Duration is how long the plugin took, including the cache check.
	Duration time.Duration
	// Err is why the build failed, or nil.
	Err error
}

// PluginDir returns the directory of m's plugin files at build time: the
// manifest's dynamic.dir, relative to the manifest's directory.
func PluginDir(m *Manifest) string {
	return filepath.Join(filepath.Dir(m.File), filepath.FromSlash(m.DynamicDir))
}

// BuildPlugins builds the manifest's enabled plugins (or those o.Names
// selects) into PluginDir(m)/<type>_<name>.so inside the manifest
// directory's module graph, in parallel, and records each file's SHA-256 in
// plugink.sum beside them. A plugin whose inputs did not change since its
// last build is kept (Cached): the key covers plugink's and Go's versions,
// the go environment and build options, go.mod/go.sum/go.work(.sum), the
// Config, and the contents of every non-standard package the plugin's
// package depends on from the main module, the workspace or a directory
// replacement (other modules are pinned by version and go.sum).
// The error joins every failure.
func BuildPlugins(ctx context.Context, m *Manifest, o BuildOptions) ([]BuildResult, error) {
	plugins, err := selectPlugins(m, o.Names)
	if err != nil {
		return nil, err
	}
	dir := PluginDir(m)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("plugin directory: %w", err)
	}
	bo := o.Loader
	bo.Dir = filepath.Dir(m.File)
	bo.SumFile = filepath.Join(dir, loader.SumFile)
	keys, err := cacheKeys(ctx, bo, plugins)
	if err != nil {
		return nil, err
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = goruntime.GOMAXPROCS(0)
	}
	results := make([]BuildResult, len(plugins))
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, p := range plugins {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			r := buildOne(ctx, p, filepath.Join(dir, p.SOName()), keys[p], bo, o.Force)
			results[i] = r
			if o.Progress != nil {
				mu.Lock()
				o.Progress(r)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return results, errors.Join(errs...)
}

func selectPlugins(m *Manifest, names []string) ([]*PluginDecl, error) {
	enabled := m.Enabled()
	if len(names) == 0 {
		return enabled, nil
	}
	var out []*PluginDecl
	var unknown []string
	for _, n := range names {
		found := false
		for _, p := range enabled {
			if p.Name == n || p.Type+"/"+p.Name == n {
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
			have = append(have, p.Type+"/"+p.Name)
		}
		return nil, fmt.Errorf("%s: no enabled plugin named %s (plugins: %s)", m.File, strings.Join(unknown, ", "), strings.Join(have, ", "))
	}
	return out, nil
}

func buildOne(ctx context.Context, p *PluginDecl, file, key string, bo loader.BuildOptions, force bool) BuildResult {
	start := time.Now()
	r := BuildResult{Plugin: p, File: file}
	keyFile := filepath.Join(filepath.Dir(file), "."+filepath.Base(file)+".key")
	if !force && upToDate(file, keyFile, key, bo.SumFile) {
		r.Cached, r.Duration = true, time.Since(start)
		return r
	}
	if err := ctx.Err(); err != nil {
		r.Err = err
		return r
	}
	c := &runtime.Config{Name: p.Name, Type: p.Type, Path: p.Path, NewFunc: p.NewFunc}
	if err := loader.NewPlugin(loader.WithBuildOptions(bo)).Build(file, c); err != nil {
		r.Err = fmt.Errorf("%s: plugin %q (%s): %w", p.Pos, p.Name, p.Type, err)
	} else if err := writeAtomic(keyFile, []byte(key+"\n")); err != nil {
		r.Err = err
	}
	r.Duration = time.Since(start)
	return r
}

// upToDate reports whether file was built from key and still has the
// checksum recorded for it.
func upToDate(file, keyFile, key, sumFile string) bool {
	old, err := os.ReadFile(keyFile)
	if err != nil || strings.TrimSpace(string(old)) != key {
		return false
	}
	sums, err := loader.ReadSums(sumFile)
	if err != nil {
		return false
	}
	return sums.Verify(file) == nil
}

// listedPackage is what cacheKeys reads from go list.
type listedPackage struct {
	ImportPath string
	Dir        string
	Standard   bool
	Deps       []string
	Module     *struct {
		Path, Version, GoMod string
		Main                 bool
		Replace              *struct{ Path, Version string }
	}
	GoFiles, CgoFiles, CFiles, CXXFiles, HFiles, SFiles, SysoFiles, EmbedFiles []string
}

// cacheKeys computes every plugin's cache key with one go list call.
func cacheKeys(ctx context.Context, bo loader.BuildOptions, plugins []*PluginDecl) (map[*PluginDecl]string, error) {
	goCmd := bo.Go
	if goCmd == "" {
		goCmd = "go"
	}
	paths := make([]string, 0, len(plugins))
	for _, p := range plugins {
		paths = append(paths, p.Path)
	}
	env, err := goOutput(ctx, goCmd, bo.Dir, "env", "GOVERSION", "GOOS", "GOARCH", "GOAMD64", "CGO_ENABLED", "GOFLAGS", "GOEXPERIMENT", "CC", "CGO_CFLAGS", "CGO_LDFLAGS", "GOMOD", "GOWORK")
	if err != nil {
		return nil, err
	}
	out, err := goOutput(ctx, goCmd, bo.Dir, append([]string{"list", "-deps", "-json"}, paths...)...)
	if err != nil {
		return nil, err
	}
	pkgs := map[string]*listedPackage{}
	for dec := json.NewDecoder(strings.NewReader(out)); ; {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("read go list output: %w", err)
		}
		pkgs[p.ImportPath] = &p
	}
	common := sha256.New()
	settings, _ := json.Marshal(struct {
		Flags, Env []string
		Host       string
		Ignore     bool
	}{bo.Flags, bo.Env, hostString(bo), bo.IgnoreHost})
	fmt.Fprintf(common, "plugink %s\n%s\n%s\n", loader.Version(), env, settings)
	for _, f := range strings.Fields(env) {
		switch {
		case !filepath.IsAbs(f):
		case strings.HasSuffix(f, ".mod"): // GOMOD: go.mod and go.sum
			hashFile(common, f)
			hashFile(common, strings.TrimSuffix(f, ".mod")+".sum")
		case strings.HasSuffix(f, ".work"): // GOWORK: go.work and go.work.sum
			hashFile(common, f)
			hashFile(common, f+".sum")
		}
	}
	base := common.Sum(nil)
	keys := map[*PluginDecl]string{}
	for _, p := range plugins {
		root := pkgs[p.Path]
		if root == nil {
			return nil, fmt.Errorf("%s: plugin %q: go list did not report package %s", p.Pos, p.Name, p.Path)
		}
		h := sha256.New()
		h.Write(base)
		fmt.Fprintf(h, "config %s %s %s %s\n", p.Name, p.Type, p.Path, p.NewFunc)
		for _, path := range append([]string{p.Path}, root.Deps...) {
			hashPackage(h, pkgs[path])
		}
		keys[p] = hex.EncodeToString(h.Sum(nil))
	}
	return keys, nil
}

func hostString(bo loader.BuildOptions) string {
	if bo.Host == nil {
		return "self"
	}
	return bo.Host.String()
}

// hashPackage adds a package to h: its module version if it comes from a
// versioned module, else the contents of its source files.
func hashPackage(h io.Writer, p *listedPackage) {
	if p == nil || p.Standard {
		return
	}
	fmt.Fprintf(h, "package %s\n", p.ImportPath)
	if m := p.Module; m != nil && !m.Main && (m.Replace == nil || m.Replace.Version != "") && m.Version != "" {
		fmt.Fprintf(h, "module %s %s\n", m.Path, m.Version)
		return
	}
	for _, list := range [][]string{p.GoFiles, p.CgoFiles, p.CFiles, p.CXXFiles, p.HFiles, p.SFiles, p.SysoFiles, p.EmbedFiles} {
		for _, f := range list {
			fmt.Fprintf(h, "file %s\n", f)
			hashFile(h, filepath.Join(p.Dir, f))
		}
	}
}

func hashFile(h io.Writer, path string) {
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintf(h, "absent %s\n", filepath.Base(path))
		return
	}
	defer f.Close()
	io.Copy(h, f)
}

func goOutput(ctx context.Context, goCmd, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}
