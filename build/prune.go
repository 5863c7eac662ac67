package build

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/internal/signature"
	"github.com/plugink/plugink/internal/sums"
	"github.com/plugink/plugink/runtime"
)

// prune removes from dir the plugin files plugink built for plugins that m
// no longer lists, or lists disabled: each file plugink.sum records (or
// that has a cache key file) whose name is <kind>_<name>.so of valid
// names, with its cache key file, its signature file and its line in
// plugink.sum. Other files in dir are left alone.
func prune(m *gen.Manifest, dir, sumFile string) ([]Result, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, p := range m.Enabled() {
		want[p.FileName()] = true
		want[p.ExecutableName("")], want[p.ExecutableName("windows")] = true, true
	}
	recorded, err := sums.Read(sumFile)
	if errors.Is(err, fs.ErrNotExist) {
		recorded, err = sums.Sums{}, nil
	}
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	candidates := map[string]bool{}
	for path := range recorded {
		if filepath.Dir(path) == dir {
			candidates[filepath.Base(path)] = true
		}
	}
	for _, e := range entries {
		if name, ok := strings.CutPrefix(e.Name(), "."); ok && strings.HasSuffix(name, ".so.key") {
			candidates[strings.TrimSuffix(name, ".key")] = true
		}
	}
	var removed []Result
	var errs []error
	for name := range candidates {
		if want[name] || !pluginFileName(name) {
			continue
		}
		file := filepath.Join(dir, name)
		for _, f := range []string{file, keyFileOf(file), signature.FileFor(file)} {
			if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		delete(recorded, file)
		removed = append(removed, Result{File: file, Removed: true})
	}
	if len(removed) > 0 {
		errs = append(errs, sums.Write(sumFile, recorded))
	}
	return removed, errors.Join(errs...)
}

// pluginFileName reports whether name is <kind>_<name>.so of valid names.
func pluginFileName(name string) bool {
	kind, plugin, ok := strings.Cut(strings.TrimSuffix(name, ".so"), "_")
	return ok && strings.HasSuffix(name, ".so") && runtime.CheckKindName(kind) == nil && runtime.CheckPluginName(plugin) == nil
}
