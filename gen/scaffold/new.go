package scaffold

import (
	"context"
	"errors"
	"fmt"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/tools/imports"

	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/gen/emit"
	"github.com/plugink/plugink/runtime"
)

// NewOptions says which plugin [NewPlugin] adds, to which manifest, where.
type NewOptions struct {
	// Options locate the manifest and the host package.
	gen.Options
	// Kind and Name are the plugin's kind and name.
	Kind, Name string
	// PkgDir is the new package's directory; "" means <kind>/<name> in
	// the manifest's directory.
	PkgDir string
	// HintDir is the directory (-C) that commands suggested in hints
	// change to, if any.
	HintDir string
}

// NewResult is what [NewPlugin] writes, and what to tell the user.
type NewResult struct {
	Scaffold
	// Plugin is the manifest's new entry.
	Plugin runtime.Config
	// Kind is its kind.
	Kind *gen.CheckedKind
	// Manifest is the manifest as written.
	Manifest *gen.Manifest
	// PkgDir and GoFile are the new package's directory and file, Package
	// its name.
	PkgDir, GoFile, Package string
}

// NewPlugin prepares a new plugin package and its manifest entry: a
// package in its own directory whose constructor has exactly the kind's
// constructor type (returning a stub of the kind's interface), the
// manifest with the entry added after its last plugin (every other line as
// it was), and the generated files. It refuses a name the rules or the
// manifest refuse, a built-in name of the kind's map, and a directory that
// exists. Nothing is written until [Scaffold.Write].
func NewPlugin(ctx context.Context, o NewOptions) (*NewResult, error) {
	again := func(args ...string) string { return Command(o.HintDir, "new", args...) }
	if err := runtime.CheckPluginName(o.Name); err != nil {
		err = fmt.Errorf("new: plugin name %s %w", runtime.Quote(o.Name), err)
		if lower := strings.ToLower(o.Name); runtime.CheckPluginName(lower) == nil {
			return nil, runtime.WithHint(err, again(o.Kind, lower))
		}
		return nil, err
	}
	file := o.ManifestPath()
	m, data, err := gen.ReadManifestText(file)
	if err != nil {
		return nil, err
	}
	k := m.Kind(o.Kind)
	if k == nil {
		err := fmt.Errorf("new: kind %s is not declared in %s (declared kinds: %s)", runtime.Quote(o.Kind), filepath.Base(file), strings.Join(kindNames(m), ", "))
		if len(m.Kinds) == 0 {
			return nil, runtime.WithHint(err, "declare the kind in the manifest's kinds section, or start with plugink init")
		}
		return nil, runtime.WithHint(err, again(m.Kinds[0].Name, o.Name))
	}
	for _, p := range m.Plugins {
		if p.Type == o.Kind && p.Name == o.Name {
			return nil, runtime.WithHint(gen.ErrorList{{Pos: p.Pos, Msg: fmt.Sprintf("plugin %q (%s) is already in the manifest", p.Name, p.Type)}},
				"choose another name: "+again(o.Kind, "<name>"))
		}
	}
	dir := o.PkgDir
	if dir == "" {
		dir = filepath.Join(filepath.Dir(file), o.Kind, o.Name)
	}
	if _, err := os.Lstat(dir); err == nil {
		return nil, runtime.WithHint(&ExistsError{Op: "new", Path: dir, Why: "new writes a new package and never writes into an existing directory"},
			"choose another name, or another directory with -dir: "+again("-dir", "<path>", o.Kind, o.Name))
	}
	ck, builtins, module, err := loadKind(ctx, o.Options, m, k)
	if err != nil {
		return nil, err
	}
	if pos, ok := builtins[o.Name]; ok {
		return nil, runtime.WithHint(fmt.Errorf("new: %s %q is built in: %s has it (%s)", o.Kind, o.Name, k.Pkg+"."+k.Var, relPos(pos)),
			fmt.Sprintf("choose another name: %s; or, to replace the built-in, add \"replace: true\" to a plugin of that name", again(o.Kind, "<name>")))
	}
	path, err := importPath(module, dir)
	if err != nil {
		return nil, runtime.WithHint(fmt.Errorf("new: package directory %s: %w", dir, err),
			fmt.Sprintf("choose a directory of module %s for the package: %s", module.Path, again("-dir", "<path>", o.Kind, o.Name)))
	}
	res := &NewResult{Kind: ck, PkgDir: dir, Package: emit.PackageName(o.Name)}
	res.Plugin = runtime.Config{Name: o.Name, Type: o.Kind, Path: path, NewFunc: emit.NewFuncName(ck.Constructor)}
	src, err := emit.PluginPackage(emit.PluginSpec{Package: res.Package, Name: o.Name, Kind: o.Kind, KindVar: ck.PkgName + "." + k.Var,
		NewFunc: res.Plugin.NewFunc.(string), Constructor: ck.Constructor})
	res.GoFile = filepath.Join(dir, res.Package+".go")
	if err == nil { // the standard library's imports first, as goimports groups them
		src, err = imports.Process(res.GoFile, src, &imports.Options{FormatOnly: true, Comments: true, TabIndent: true, TabWidth: 8})
	}
	if err != nil {
		return nil, fmt.Errorf("new: %w", err)
	}
	edited, ins, err := addPlugin(data, &res.Plugin)
	if err == nil {
		res.Manifest, err = gen.ParseManifest(file, edited)
	}
	if err != nil || !sameManifest(m, res.Manifest, &res.Plugin) {
		return nil, fmt.Errorf("new: cannot add the plugin to %s without changing the rest of it (%v); add it under plugins: yourself", file, err)
	}
	abs, err := filepath.Abs(res.GoFile)
	if err != nil {
		return nil, err
	}
	o.Overlay = map[string][]byte{abs: src}
	ch, err := gen.Check(ctx, res.Manifest, o.Options)
	if err != nil {
		return nil, unshift(err, ins)
	}
	generated, err := gen.Emit(ctx, ch, o.Options)
	if errors.Is(err, gen.ErrNoHostPackage) {
		generated, err = nil, nil // a manifest only to build plugins from: nothing to generate
	}
	if err != nil {
		return nil, err
	}
	res.Files = append([]gen.File{{Path: res.GoFile, Data: src}, {Path: file, Data: edited}}, generated...)
	res.Create = []string{dir}
	return res, nil
}

// loadKind checks the manifest as plugink gen does, and loads the kind's
// package from source: it returns the kind, the names its map's
// declaration registers, and the module of the host package.
func loadKind(ctx context.Context, o gen.Options, m *gen.Manifest, k *gen.KindDecl) (*gen.CheckedKind, map[string]token.Position, *moduleInfo, error) {
	ch, err := gen.Check(ctx, m, o)
	if err != nil {
		return nil, nil, nil, err
	}
	i := slices.IndexFunc(ch.Kinds, func(c *gen.CheckedKind) bool { return c.Name == k.Name })
	dir := o.Dir
	if dir == "" {
		dir = "."
	}
	pkgs, err := loadSource(ctx, dir, []string{".", k.Pkg})
	if err != nil {
		return nil, nil, nil, err
	}
	var mod *moduleInfo
	var builtins map[string]token.Position
	for _, p := range pkgs {
		if p.PkgPath == k.Pkg {
			if fk, _ := inspectVar(p, initializers(p), k.Var); fk != nil {
				builtins = fk.Builtins
			}
		}
		if mod == nil && p.Module != nil && p.Module.Main {
			mod = &moduleInfo{Path: p.Module.Path, Dir: p.Module.Dir}
		}
	}
	if mod == nil {
		return nil, nil, nil, fmt.Errorf("new: %s: %w", dir, ErrNoPackage)
	}
	return ch.Kinds[i], builtins, mod, nil
}

// kindNames returns the names of m's kinds.
func kindNames(m *gen.Manifest) []string {
	var out []string
	for _, k := range m.Kinds {
		out = append(out, k.Name)
	}
	return out
}

// moduleInfo is a module's path and directory.
type moduleInfo struct{ Path, Dir string }

// importPath returns the import path of the package in dir, a directory
// of module mod that does not exist yet.
func importPath(mod *moduleInfo, dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	real := resolveExisting(abs)
	root, err := filepath.EvalSymlinks(mod.Dir)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(root, real)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("not inside module %s (%s)", mod.Path, mod.Dir)
	}
	for d := filepath.Dir(real); d != root && strings.HasPrefix(d, root); d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return "", fmt.Errorf("inside the module of %s, not the host's module %s", filepath.Join(d, "go.mod"), mod.Path)
		}
	}
	for _, elem := range strings.Split(rel, string(filepath.Separator)) {
		if strings.HasPrefix(elem, "_") || strings.HasPrefix(elem, ".") || elem == "testdata" {
			return "", fmt.Errorf("the go command ignores directories named testdata or starting with _ or ., such as %s", elem)
		}
	}
	path := mod.Path + "/" + filepath.ToSlash(rel)
	if err := runtime.CheckImportPath(path); err != nil {
		return "", fmt.Errorf("import path %s %w", runtime.Quote(path), err)
	}
	return path, nil
}

// resolveExisting resolves the symbolic links of the longest part of path
// that exists, and appends the rest.
func resolveExisting(path string) string {
	rest := ""
	for {
		if real, err := filepath.EvalSymlinks(path); err == nil {
			return filepath.Join(real, rest)
		}
		parent := filepath.Dir(path)
		if parent == path {
			return filepath.Join(path, rest)
		}
		rest, path = filepath.Join(filepath.Base(path), rest), parent
	}
}

// unshift moves the positions of err after the inserted entry back to the
// lines of the manifest on disk; those in the entry lose theirs.
func unshift(err error, ins insertion) error {
	var list gen.ErrorList
	if !errors.As(err, &list) {
		return err
	}
	out := make(gen.ErrorList, len(list))
	for i, e := range list {
		c := *e
		switch {
		case c.Pos.Line > ins.At+ins.N:
			c.Pos.Line -= ins.N
		case c.Pos.Line > ins.At:
			c.Pos, c.Msg = token.Position{}, "new: "+c.Msg
		}
		out[i] = &c
	}
	return out
}
