package gen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"go/token"
	"go/types"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/tools/go/gcexportdata"
	"golang.org/x/tools/go/packages"

	"github.com/plugink/plugink/gen/glue"
)

// runtimePath is the import path of plugink's runtime package.
const runtimePath = "github.com/plugink/plugink/runtime"

// Checked is a manifest whose kinds and plugins were found in Go code and
// type-checked: what the emitters need, with real package names.
type Checked struct {
	// Manifest is the parsed manifest.
	Manifest *Manifest
	// Kinds are the manifest's kinds, sorted by name.
	Kinds []*CheckedKind
	// Plugins are the enabled plugins, sorted by kind then name.
	Plugins []*CheckedPlugin
}

// CheckedKind is a kind whose binding resolved.
type CheckedKind struct {
	*KindDecl
	// PkgName is the declared name of the package at Pkg.
	PkgName string
	// IsMap is true for a map[string]F binding, false for *runtime.Kind[F].
	IsMap bool
	// Constructor is F, the constructor type.
	Constructor types.Type
	// Types is the package that declares the kind's variable.
	Types *types.Package
	// Glue is the kind's process glue, nil if it cannot cross a process
	// (Problems say why).
	Glue *glue.Kind
	// Problems say why the kind cannot cross a process, at positions of
	// its Go code.
	Problems []glue.Problem
}

// CheckedPlugin is a plugin whose constructor exists and fits its kind.
type CheckedPlugin struct {
	*PluginDecl
	// PkgName is the declared name of the package at Path.
	PkgName string
}

// Check loads every package the manifest names with go/packages, from
// export data (types only, no syntax: this runs on every go generate), and
// checks that each kind's variable is a map[string]F or a *runtime.Kind[F]
// with F a func type, that each enabled plugin's package loads and has an
// exported function NewFunc, and that its type is assignable to F. Every
// problem is reported at once, at its manifest position.
func Check(ctx context.Context, m *Manifest, o Options) (*Checked, error) {
	paths := map[string]bool{}
	for _, k := range m.Kinds {
		paths[k.Pkg] = true
	}
	for _, p := range m.Enabled() {
		paths[p.Path] = true
	}
	fset, pkgs, err := loadPackages(ctx, o, slices.Sorted(maps.Keys(paths)))
	if err != nil {
		return nil, err
	}
	c := &collector{file: m.File}
	ch := &Checked{Manifest: m}
	kinds := map[string]*CheckedKind{}
	for _, k := range m.Kinds {
		if ck := checkKind(c, k, pkgs[k.Pkg]); ck != nil {
			ch.Kinds = append(ch.Kinds, ck)
			kinds[k.Name] = ck
		}
	}
	for _, k := range ch.Kinds {
		k.Glue, k.Problems = glue.Analyze(fset, k.Name, k.Constructor, k.Types)
		if len(k.Problems) > 0 {
			k.Glue = nil
		}
	}
	var refused ErrorList // at positions of Go code, after the manifest's
	for _, p := range m.Enabled() {
		cp := checkPlugin(c, p, pkgs[p.Path], kinds[p.Type])
		if cp != nil {
			ch.Plugins = append(ch.Plugins, cp)
		}
		if k := kinds[p.Type]; cp != nil && p.Process && k != nil && len(k.Problems) > 0 {
			at := p.FieldPos["mode"]
			follow := "1 problem follows"
			if len(k.Problems) > 1 {
				follow = fmt.Sprintf("%d problems follow", len(k.Problems))
			}
			c.add(at.Line, at.Column, "plugin %q (%s): mode: process: kind %s cannot cross a process (%s); leave mode out to compile the plugin in, or load it as a .so", p.Name, p.Type, p.Type, follow)
			for _, pr := range k.Problems {
				refused = append(refused, &Error{Pos: pr.Pos, Msg: pr.Msg})
			}
		}
	}
	if err := c.err(); err != nil {
		return nil, append(err.(ErrorList), refused...)
	}
	slices.SortFunc(ch.Plugins, func(a, b *CheckedPlugin) int {
		return strings.Compare(a.Type+"\x00"+a.Name, b.Type+"\x00"+b.Name)
	})
	return ch, nil
}

// loaded is one package the manifest names, as Check needs it.
type loaded struct {
	// Name is the package's declared name.
	Name string
	// Types is the package read from its export data; nil when Problem is
	// set.
	Types *types.Package
	// Problem says why the package cannot be used, or is "".
	Problem string
}

// loadPackages reads the types of paths from the export data the go command
// builds for them, in the module of o.Dir. go/packages finds the packages
// and their export files with one go list; the files are read here, into one
// shared map, so that a type seen from two packages (a kind's Option, say)
// is the same *types.Package object in both. Asking go/packages for
// NeedTypes instead would cost two more go commands per run (the type sizes
// and the dependency graph), which export data does not need.
func loadPackages(ctx context.Context, o Options, paths []string) (*token.FileSet, map[string]*loaded, error) {
	cfg := &packages.Config{
		Context: ctx,
		Mode:    packages.NeedName | packages.NeedExportFile,
		Dir:     o.dir(),
		Overlay: o.Overlay,
	}
	if len(o.Tags) > 0 {
		cfg.BuildFlags = []string{"-tags=" + strings.Join(o.Tags, ",")}
	}
	cfg.BuildFlags = append(cfg.BuildFlags, o.BuildFlags...)
	if len(o.Env) > 0 {
		cfg.Env = append(os.Environ(), o.Env...)
	}
	list, err := packages.Load(cfg, paths...)
	if err != nil {
		return nil, nil, fmt.Errorf("load packages: %w", err)
	}
	slices.SortFunc(list, func(a, b *packages.Package) int { return strings.Compare(a.PkgPath, b.PkgPath) })
	fset := token.NewFileSet()
	imports := map[string]*types.Package{}
	out := map[string]*loaded{}
	for _, p := range list {
		l := &loaded{Name: p.Name, Problem: pkgProblem(p)}
		if l.Problem == "" {
			l.Types, err = readExport(fset, imports, p)
			if err != nil {
				l.Problem = err.Error()
			}
		}
		out[p.PkgPath] = l
	}
	return fset, out, nil
}

// readExport reads p's types from its export data file into imports.
func readExport(fset *token.FileSet, imports map[string]*types.Package, p *packages.Package) (*types.Package, error) {
	if p.ExportFile == "" {
		return nil, errors.New("the go command built no export data for it")
	}
	f, err := os.Open(p.ExportFile)
	if err != nil {
		return nil, fmt.Errorf("read export data: %w", err)
	}
	defer f.Close()
	r, err := gcexportdata.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("read export data %s: %w", filepath.Base(p.ExportFile), err)
	}
	tp, err := gcexportdata.Read(r, fset, imports, p.PkgPath)
	if err != nil {
		return nil, fmt.Errorf("read export data %s: %w", filepath.Base(p.ExportFile), err)
	}
	return tp, nil
}

// pkgProblem reports why p cannot be used, or "".
func pkgProblem(p *packages.Package) string {
	if len(p.Errors) > 0 {
		var msgs []string
		for _, e := range p.Errors {
			msgs = append(msgs, errorLines(e.Msg)...)
		}
		return strings.Join(msgs, "; ")
	}
	return ""
}

// errorLines returns what the go command says is wrong in msg, a line each:
// a compiler's "# package" header and the indented hints that follow a
// message ("to add it:\n\tgo get ...") are dropped.
func errorLines(msg string) []string {
	var out []string
	for line := range strings.Lines(msg) {
		line = strings.TrimRight(line, "\n")
		if strings.HasPrefix(line, "# ") || strings.HasPrefix(line, "\t") || strings.TrimSpace(line) == "" {
			continue
		}
		out = append(out, strings.TrimSuffix(line, "; to add it:"))
	}
	return out
}

// loadProblem reports why l cannot be used, or "".
func loadProblem(l *loaded) string {
	if l == nil {
		return "not found"
	}
	return l.Problem
}

func checkKind(c *collector, k *KindDecl, p *loaded) *CheckedKind {
	at := k.Pos
	if msg := loadProblem(p); msg != "" {
		c.add(at.Line, at.Column, "kind %q: cannot load package %s: %s", k.Name, k.Pkg, msg)
		return nil
	}
	if p.Name == "main" {
		c.add(at.Line, at.Column, "kind %q: %s is a main package, which cannot be imported; declare %s in a library package", k.Name, k.Pkg, k.Var)
		return nil
	}
	obj := p.Types.Scope().Lookup(k.Var)
	v, ok := obj.(*types.Var)
	if !ok {
		what := "no such name"
		if obj != nil {
			what = "it is not a variable"
		}
		c.add(at.Line, at.Column, "kind %q: %s.%s: %s; want a variable of type map[string]F or *runtime.Kind[F]", k.Name, k.Pkg, k.Var, what)
		return nil
	}
	ck := &CheckedKind{KindDecl: k, PkgName: p.Name, Types: p.Types}
	qual := qualifier
	switch t := types.Unalias(v.Type()); {
	case isMapKind(t):
		ck.IsMap, ck.Constructor = true, t.Underlying().(*types.Map).Elem()
	case isRuntimeKind(t):
		ck.Constructor = types.Unalias(t.(*types.Pointer).Elem()).(*types.Named).TypeArgs().At(0)
	default:
		c.add(at.Line, at.Column, "kind %q: %s.%s has type %s; want map[string]F or *runtime.Kind[F] with F a func type", k.Name, k.Pkg, k.Var, types.TypeString(v.Type(), qual))
		return nil
	}
	if _, isFunc := ck.Constructor.Underlying().(*types.Signature); !isFunc {
		c.add(at.Line, at.Column, "kind %q: constructor type %s is not a func type", k.Name, types.TypeString(ck.Constructor, qual))
		return nil
	}
	return ck
}

func isMapKind(t types.Type) bool {
	m, ok := t.Underlying().(*types.Map)
	if !ok {
		return false
	}
	// Exactly string: the generated code passes the map to
	// runtime.Declare, which takes a map[string]F.
	return types.Identical(m.Key(), types.Typ[types.String])
}

func isRuntimeKind(t types.Type) bool {
	ptr, ok := t.(*types.Pointer)
	if !ok {
		return false
	}
	n, ok := types.Unalias(ptr.Elem()).(*types.Named)
	if !ok {
		return false
	}
	obj := n.Origin().Obj()
	return obj.Pkg() != nil && obj.Pkg().Path() == runtimePath && obj.Name() == "Kind" && n.TypeArgs().Len() == 1
}

// qualifier writes types the way Go code reads: package names, not paths.
func qualifier(p *types.Package) string { return p.Name() }

func checkPlugin(c *collector, d *PluginDecl, p *loaded, k *CheckedKind) *CheckedPlugin {
	who := fmt.Sprintf("plugin %q (%s)", d.Name, d.Type)
	if msg := loadProblem(p); msg != "" {
		at := d.FieldPos["path"]
		c.add(at.Line, at.Column, "%s: cannot load package %s: %s", who, d.Path, msg)
		return nil
	}
	if p.Name == "main" {
		at := d.FieldPos["path"]
		c.add(at.Line, at.Column, "%s: %s is a main package, which cannot be imported; move the constructor to a library package", who, d.Path)
		return nil
	}
	at := d.FieldPos["newfunc"]
	obj := p.Types.Scope().Lookup(d.Func())
	if obj == nil {
		c.add(at.Line, at.Column, "%s: package %s has no %s", who, d.Path, d.Func())
		return nil
	}
	var sig types.Type
	switch o := obj.(type) {
	case *types.Func:
		sig = o.Type()
	case *types.Var:
		if _, ok := o.Type().Underlying().(*types.Signature); ok {
			sig = o.Type()
		}
	}
	if sig == nil {
		c.add(at.Line, at.Column, "%s: %s.%s is a %s, not a function", who, p.Name, d.Func(), objectKind(obj))
		return nil
	}
	if k == nil {
		return nil // the kind's own error is reported
	}
	if !types.AssignableTo(sig, k.Constructor) {
		c.add(at.Line, at.Column, "%s: %s has type %s; kind %s wants %s", who, d.Func(),
			types.TypeString(sig, qualifier), d.Type, types.TypeString(k.Constructor, qualifier))
		return nil
	}
	return &CheckedPlugin{PluginDecl: d, PkgName: p.Name}
}

func objectKind(obj types.Object) string {
	switch obj.(type) {
	case *types.Const:
		return "constant"
	case *types.TypeName:
		return "type"
	case *types.Var:
		return "variable"
	}
	return "name"
}
