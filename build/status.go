package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/internal/gocmd"
	"github.com/plugink/plugink/loader"
)

// PluginStatus is what `plugink list` shows of one plugin.
type PluginStatus struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Path     string `json:"path"`
	NewFunc  string `json:"newfunc"`
	Disabled bool   `json:"disabled,omitempty"`
	// Package is "ok" when the package resolves, else why not.
	Package string `json:"package"`
	// File is the plugin's .so path; Built says whether it exists.
	File  string `json:"file"`
	Built bool   `json:"built"`
	// Checksum is "current", "stale" (the file differs from plugink.sum),
	// "missing" (no record) or "" when the file is not built.
	Checksum string `json:"checksum,omitempty"`
}

// KindStatus is what `plugink list` shows of one kind.
type KindStatus struct {
	Name string `json:"name"`
	Var  string `json:"var"`
}

// Status is the manifest's kinds and plugins with their state on disk.
type Status struct {
	Manifest string         `json:"manifest"`
	Kinds    []KindStatus   `json:"kinds"`
	Plugins  []PluginStatus `json:"plugins"`
}

// List reports, for each plugin of m, whether its package resolves (one go
// list call, with the go command goCmd, "" meaning "go"), whether its .so
// is built, and whether the file matches its recorded checksum. Plugins
// come in manifest order.
func List(ctx context.Context, m *gen.Manifest, goCmd string) (*Status, error) {
	st := &Status{Manifest: m.File}
	for _, k := range m.Kinds {
		st.Kinds = append(st.Kinds, KindStatus{Name: k.Name, Var: k.Pkg + "." + k.Var})
	}
	resolved, err := resolvePackages(ctx, gocmd.Cmd{Go: goCmd, Dir: filepath.Dir(m.File)}, m.Plugins)
	if err != nil {
		return nil, err
	}
	dir := PluginDir(m)
	sums, err := loader.ReadSums(filepath.Join(dir, loader.SumFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, p := range m.Plugins {
		ps := PluginStatus{Name: p.Name, Type: p.Type, Path: p.Path, NewFunc: p.Func(), Disabled: p.Disabled,
			Package: resolved[p.Path], File: filepath.Join(dir, p.FileName())}
		if _, err := os.Stat(ps.File); err == nil {
			ps.Built = true
			switch err := sums.Verify(ps.File); {
			case err == nil:
				ps.Checksum = "current"
			case errors.Is(err, loader.ErrChecksum):
				ps.Checksum = "stale"
			default:
				ps.Checksum = "missing"
			}
		}
		st.Plugins = append(st.Plugins, ps)
	}
	return st, nil
}

// resolvePackages maps each plugin path to "ok" or the go command's error.
func resolvePackages(ctx context.Context, goCmd gocmd.Cmd, plugins []*gen.PluginDecl) (map[string]string, error) {
	out := map[string]string{}
	if len(plugins) == 0 {
		return out, nil
	}
	args := []string{"list", "-e", "-f", "{{.ImportPath}}\t{{if .Error}}{{.Error}}{{else}}ok{{end}}"}
	for _, p := range plugins {
		args = append(args, p.Path)
	}
	text, err := goCmd.Output(ctx, args...)
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(strings.TrimSpace(string(text)), "\n") {
		path, state, _ := strings.Cut(line, "\t")
		state, _, _ = strings.Cut(state, "\n")
		state = strings.TrimSuffix(state, "; to add it:")
		out[path] = state
	}
	for _, p := range plugins {
		if out[p.Path] == "" {
			out[p.Path] = fmt.Sprintf("not found: %s", p.Path)
		}
	}
	return out, nil
}
