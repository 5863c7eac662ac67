package build

import (
	"cmp"
	goruntime "runtime"

	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/internal/execbuild"
	"github.com/plugink/plugink/internal/fsx"
	"github.com/plugink/plugink/internal/gocmd"
	"github.com/plugink/plugink/internal/sums"
	"github.com/plugink/plugink/loader"
)

// PluginStatus is what `plugink list` shows of one plugin.
type PluginStatus struct {
	// Name, Type, Path and NewFunc are the plugin's Config, as the
	// manifest declares it.
	Name    string `json:"name"`
	Type    string `json:"type"`
	Path    string `json:"path"`
	NewFunc string `json:"newfunc"`
	// Disabled says the manifest disables the plugin.
	Disabled bool `json:"disabled,omitempty"`
	// Package is "ok" when the package resolves, else why not.
	Package string `json:"package"`
	// Process says the plugin runs as a child process (mode: process):
	// File is then its executable, which has no recorded inputs and is
	// not checked against a host.
	Process bool `json:"process,omitempty"`
	// File is the plugin's .so path, or its executable's.
	File string `json:"file"`
	// Built says whether File exists.
	Built bool `json:"built"`
	// Checksum is "ok" (the file is the one plugink.sum records),
	// "modified" (it is not), "unrecorded", or "" when the file is not
	// built.
	Checksum string `json:"checksum,omitempty"`
	// Inputs is "current" when the plugin's sources and settings are
	// those it was built from, "changed" when a build would make another
	// file, "" when that is unknown (not built, or not built by plugink
	// build).
	Inputs string `json:"inputs,omitempty"`
	// Fits is, when List was given a host, "yes" or why the file would
	// not load into it.
	Fits string `json:"fits,omitempty"`
}

// KindStatus is what `plugink list` shows of one kind.
type KindStatus struct {
	// Name is the kind's name.
	Name string `json:"name"`
	// Var is the variable it is bound to, as import/path.Var.
	Var string `json:"var"`
}

// Status is the manifest's kinds and plugins with their state on disk.
type Status struct {
	// Manifest is the manifest's file.
	Manifest string `json:"manifest"`
	// Kinds are its kinds, in file order.
	Kinds []KindStatus `json:"kinds"`
	// Plugins are its plugins, in file order.
	Plugins []PluginStatus `json:"plugins"`
}

// List reports, for each plugin of m, whether its package resolves (one go
// list call), whether its .so is built (its executable, for a plugin with
// mode: process, or with o.Process one whose kind can cross a process), whether the file is the one
// plugink.sum records, whether its inputs changed since it was built (with
// o's settings, as Plugins would build it), and, with o.Host, whether it
// would load into that host. Plugins come in manifest order.
func List(ctx context.Context, m *gen.Manifest, o Options) (*Status, error) {
	st := &Status{Manifest: m.File}
	for _, k := range m.Kinds {
		st.Kinds = append(st.Kinds, KindStatus{Name: k.Name, Var: k.Pkg + "." + k.Var})
	}
	dir := PluginDir(m)
	pin, err := o.pin(ctx, m)
	if err != nil {
		return nil, err
	}
	defer pin.cleanup()
	bo := o.loaderOptions(m, dir, pin)
	resolved, err := resolvePackages(ctx, gocmd.Cmd{Go: bo.Go, Dir: bo.Dir}, m.Plugins)
	if err != nil {
		return nil, err
	}
	recorded, err := sums.Read(bo.SumFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	mod, err := bo.Module(ctx)
	if err != nil {
		return nil, err
	}
	plans, err := planBuilds(ctx, m, o.Host, bo, mod, resolvable(m.Enabled(), resolved))
	if err != nil {
		return nil, err
	}
	procs := map[*gen.PluginDecl]bool{} // with o.Process: those built as executables
	if o.Process {
		list, _, _, err := execbuild.Split(ctx, m, resolvable(m.Enabled(), resolved), true, o.Tags)
		if err != nil {
			return nil, err
		}
		for _, p := range list {
			procs[p] = true
		}
	}
	for _, p := range m.Plugins {
		ps := PluginStatus{Name: p.Name, Type: p.Type, Path: p.Path, NewFunc: p.Func(), Disabled: p.Disabled,
			Package: resolved[p.Path], File: filepath.Join(dir, p.FileName()), Process: p.Process || procs[p]}
		if ps.Process {
			ps.File = filepath.Join(dir, p.ExecutableName(cmp.Or(os.Getenv("GOOS"), goruntime.GOOS)))
		}
		key := ""
		if pl := plans[p]; pl != nil {
			key = pl.key
		}
		ps.state(recorded, key, o.Host)
		st.Plugins = append(st.Plugins, ps)
	}
	return st, nil
}

// resolvable returns the plugins whose packages resolve.
func resolvable(plugins []*gen.PluginDecl, resolved map[string]string) []*gen.PluginDecl {
	var out []*gen.PluginDecl
	for _, p := range plugins {
		if resolved[p.Path] == "ok" {
			out = append(out, p)
		}
	}
	return out
}

// state fills in what ps's file says: built, checksum, inputs, fit.
func (ps *PluginStatus) state(s sums.Sums, key string, host *loader.Host) {
	if _, err := os.Stat(ps.File); err != nil {
		return
	}
	ps.Built = true
	ps.Checksum = s.Status(ps.File)
	if old, err := fsx.ReadFile(keyFileOf(ps.File), 1024); err == nil && key != "" {
		ps.Inputs = "changed"
		if strings.TrimSpace(string(old)) == key {
			ps.Inputs = "current"
		}
	}
	if host != nil && !ps.Process {
		ps.Fits = "yes"
		if err := loader.Preflight(ps.File, host); err != nil {
			ps.Fits = err.Error()
		}
	}
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
