package gen

import (
	"context"
	"fmt"
	"go/types"
	"maps"
	"slices"
	"strings"

	"golang.org/x/tools/go/packages"
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
	pkgs, err := loadPackages(ctx, o, slices.Sorted(maps.Keys(paths)))
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
	for _, p := range m.Enabled() {
		if cp := checkPlugin(c, p, pkgs[p.Path], kinds[p.Type]); cp != nil {
			ch.Plugins = append(ch.Plugins, cp)
		}
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	slices.SortFunc(ch.Plugins, func(a, b *CheckedPlugin) int {
		return strings.Compare(a.Type+"\x00"+a.Name, b.Type+"\x00"+b.Name)
	})
	return ch, nil
}

// loadPackages type-checks paths from export data, in the module of o.Dir.
func loadPackages(ctx context.Context, o Options, paths []string) (map[string]*packages.Package, error) {
	cfg := &packages.Config{
		Context: ctx,
		Mode:    packages.NeedName | packages.NeedTypes,
		Dir:     o.dir(),
	}
	if len(o.Tags) > 0 {
		cfg.BuildFlags = []string{"-tags=" + strings.Join(o.Tags, ",")}
	}
	list, err := packages.Load(cfg, paths...)
	if err != nil {
		return nil, fmt.Errorf("load packages: %w", err)
	}
	out := map[string]*packages.Package{}
	for _, p := range list {
		out[p.PkgPath] = p
	}
	return out, nil
}

// pkgProblem reports why p cannot be used, or "".
func pkgProblem(p *packages.Package) string {
	if p == nil {
		return "not found"
	}
	if len(p.Errors) > 0 {
		msgs := make([]string, len(p.Errors))
		for i, e := range p.Errors {
			// The go command's hint ("to add it: go get ...") follows on
			// other lines; the first says what is wrong.
			msgs[i], _, _ = strings.Cut(e.Msg, "\n")
			msgs[i] = strings.TrimSuffix(msgs[i], "; to add it:")
		}
		return strings.Join(msgs, "; ")
	}
	if p.Types == nil {
		return "no type information"
	}
	return ""
}

func checkKind(c *collector, k *KindDecl, p *packages.Package) *CheckedKind {
	at := k.Pos
	if msg := pkgProblem(p); msg != "" {
		c.add(at.Line, at.Column, "kind %q: cannot load package %s: %s", k.Name, k.Pkg, msg)
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
	ck := &CheckedKind{KindDecl: k, PkgName: p.Name}
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
	b, ok := m.Key().Underlying().(*types.Basic)
	return ok && b.Kind() == types.String
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

func checkPlugin(c *collector, d *PluginDecl, p *packages.Package, k *CheckedKind) *CheckedPlugin {
	who := fmt.Sprintf("plugin %q (%s)", d.Name, d.Type)
	if msg := pkgProblem(p); msg != "" {
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
	obj := p.Types.Scope().Lookup(d.NewFunc)
	if obj == nil {
		c.add(at.Line, at.Column, "%s: package %s has no %s", who, d.Path, d.NewFunc)
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
		c.add(at.Line, at.Column, "%s: %s.%s is a %s, not a function", who, p.Name, d.NewFunc, objectKind(obj))
		return nil
	}
	if k == nil {
		return nil // the kind's own error is reported
	}
	if !types.AssignableTo(sig, k.Constructor) {
		c.add(at.Line, at.Column, "%s: %s has type %s; kind %s wants %s", who, d.NewFunc,
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
