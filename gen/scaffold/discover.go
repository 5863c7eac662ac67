package scaffold

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/tools/go/packages"

	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/runtime"
)

// runtimePath is the import path of plugink's runtime package.
const runtimePath = "github.com/plugink/plugink/runtime"

// FoundKind is a package-level variable that can bind a kind: a
// map[string]F or a *runtime.Kind[F], F a func type.
type FoundKind struct {
	// Name is the kind's name: the one runtime.Declare (or MustDeclare)
	// gives it, or one derived from the variable's (DefaultClients:
	// client; see [KindName]).
	Name string
	// Pkg, PkgName and Var are the variable's package (import path and
	// name) and name.
	Pkg, PkgName, Var string
	// IsMap is true for a map[string]F, false for a *runtime.Kind[F].
	IsMap bool
	// Constructor is F.
	Constructor types.Type
	// Declared is where runtime.Declare names a *runtime.Kind (so Name is
	// fixed), if that is in the variable's declaration.
	Declared token.Position
	// Builtins are the names the map's declaration registers (its
	// composite literal's keys), with their positions.
	Builtins map[string]token.Position
}

// Ref returns the variable's qualified name, as a manifest binds it:
// import/path.Var.
func (k *FoundKind) Ref() string { return k.Pkg + "." + k.Var }

// Found is what [FindKinds] found.
type Found struct {
	// Package and Module are the import paths of the package searched and
	// of its module; PackageName is the package's name.
	Package, Module, PackageName string
	// ModuleDir is the module's directory.
	ModuleDir string
	// Kinds are the variables found, sorted by package and name; a map
	// that a *runtime.Kind found binds is left out (the Kind stands for
	// it).
	Kinds []*FoundKind
	// InPackage are those found in the package searched itself, which
	// the files generated into it cannot import.
	InPackage []*FoundKind
}

// ErrNoPackage reports a directory without a Go package of a module.
var ErrNoPackage = errors.New("no Go package of a module")

// FindKinds looks, in the package in dir and in every package of its
// module that it imports (directly or not), for exported package-level
// variables that can bind a kind. Other main packages, which cannot be
// imported, are not searched.
func FindKinds(ctx context.Context, dir string) (*Found, error) {
	cfg := &packages.Config{Context: ctx, Dir: dir, Mode: packages.NeedName | packages.NeedImports | packages.NeedDeps | packages.NeedModule}
	roots, err := packages.Load(cfg, ".")
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", dir, err)
	}
	if len(roots) != 1 || roots[0].Name == "" || roots[0].Module == nil {
		return nil, fmt.Errorf("%s: %w", dir, ErrNoPackage)
	}
	root := roots[0]
	f := &Found{Package: root.PkgPath, PackageName: root.Name, Module: root.Module.Path, ModuleDir: root.Module.Dir}
	var paths []string
	packages.Visit(roots, nil, func(p *packages.Package) {
		if p.Module != nil && p.Module.Path == f.Module && (p.Name != "main" || p == root) {
			paths = append(paths, p.PkgPath)
		}
	})
	if len(paths) == 0 {
		return f, nil
	}
	pkgs, err := loadSource(ctx, dir, paths)
	if err != nil {
		return nil, err
	}
	bound := map[string]bool{} // maps a Kind binds, by Pkg.Var
	for _, p := range pkgs {
		inits := initializers(p)
		for _, name := range p.Types.Scope().Names() {
			k, boundMap := inspectVar(p, inits, name)
			switch {
			case k == nil:
			case p.PkgPath == root.PkgPath:
				f.InPackage = append(f.InPackage, k)
			default:
				f.Kinds = append(f.Kinds, k)
			}
			bound[boundMap] = true
		}
	}
	unbound := func(k *FoundKind) bool { return k.IsMap && bound[k.Ref()] }
	f.Kinds, f.InPackage = slices.DeleteFunc(f.Kinds, unbound), slices.DeleteFunc(f.InPackage, unbound)
	return f, nil
}

// loadSource loads paths from source (their dependencies from export
// data), sorted by import path.
func loadSource(ctx context.Context, dir string, paths []string) ([]*packages.Package, error) {
	cfg := &packages.Config{Context: ctx, Dir: dir,
		Mode: packages.NeedName | packages.NeedTypes | packages.NeedSyntax | packages.NeedTypesInfo | packages.NeedModule}
	pkgs, err := packages.Load(cfg, paths...)
	if err != nil {
		return nil, fmt.Errorf("load packages: %w", err)
	}
	pkgs = slices.DeleteFunc(pkgs, func(p *packages.Package) bool { return p.Types == nil || p.TypesInfo == nil })
	slices.SortFunc(pkgs, func(a, b *packages.Package) int { return strings.Compare(a.PkgPath, b.PkgPath) })
	return pkgs, nil
}

// inspectVar returns the exported variable name of p as a FoundKind, if
// it can bind a kind, and for a *runtime.Kind the map it binds (Pkg.Var),
// if its declaration says; inits are p's initializers.
func inspectVar(p *packages.Package, inits map[*types.Var]ast.Expr, name string) (*FoundKind, string) {
	v, ok := p.Types.Scope().Lookup(name).(*types.Var)
	if !ok || !v.Exported() {
		return nil, ""
	}
	k := &FoundKind{Pkg: p.PkgPath, PkgName: p.Name, Var: name}
	if k.Constructor, k.IsMap, ok = gen.KindType(v.Type()); !ok {
		return nil, ""
	}
	bound := ""
	if k.IsMap {
		k.Builtins = mapKeys(p, inits[v])
	} else if call, declared, arg := declareCall(p.TypesInfo, inits[v]); call != nil {
		if declared != "" {
			k.Name, k.Declared = declared, p.Fset.Position(call.Pos())
		}
		if m := varOf(p.TypesInfo, arg); m != nil {
			bound = m.Pkg().Path() + "." + m.Name()
			if m.Pkg() == p.Types {
				arg = inits[m]
			}
		}
		k.Builtins = mapKeys(p, arg)
	}
	if k.Name == "" {
		k.Name = KindName(name, p.Name, k.IsMap)
	}
	return k, bound
}

// initializers returns the expression that initializes each package-level
// variable of p that has one.
func initializers(p *packages.Package) map[*types.Var]ast.Expr {
	out := map[*types.Var]ast.Expr{}
	for _, f := range p.Syntax {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					v, ok := p.TypesInfo.Defs[id].(*types.Var)
					switch {
					case !ok:
					case len(vs.Values) == len(vs.Names):
						out[v] = vs.Values[i]
					case len(vs.Values) == 1 && i == 0: // k, err := runtime.Declare(...)
						out[v] = vs.Values[0]
					}
				}
			}
		}
	}
	return out
}

// declareCall returns e as a call of runtime.Declare, MustDeclare or
// DeclareIn, with the kind name it passes (if a constant) and its map
// argument; or nil.
func declareCall(info *types.Info, e ast.Expr) (call *ast.CallExpr, name string, m ast.Expr) {
	call, _ = ast.Unparen(e).(*ast.CallExpr)
	if call == nil {
		return nil, "", nil
	}
	fun := ast.Unparen(call.Fun)
	switch f := fun.(type) {
	case *ast.IndexExpr:
		fun = f.X
	case *ast.IndexListExpr:
		fun = f.X
	}
	var id *ast.Ident
	switch f := fun.(type) {
	case *ast.SelectorExpr:
		id = f.Sel
	case *ast.Ident:
		id = f
	}
	fn, ok := info.Uses[id].(*types.Func)
	if id == nil || !ok || fn.Pkg() == nil || fn.Pkg().Path() != runtimePath {
		return nil, "", nil
	}
	at := map[string]int{"Declare": 0, "MustDeclare": 0, "DeclareIn": 1}
	i, ok := at[fn.Name()]
	if !ok || len(call.Args) != i+2 {
		return nil, "", nil
	}
	if tv := info.Types[call.Args[i]]; tv.Value != nil && tv.Value.Kind() == constant.String {
		name = constant.StringVal(tv.Value)
	}
	return call, name, call.Args[i+1]
}

// varOf returns the package-level variable e names, or nil.
func varOf(info *types.Info, e ast.Expr) *types.Var {
	var id *ast.Ident
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		id = e
	case *ast.SelectorExpr:
		id = e.Sel
	}
	if v, ok := info.Uses[id].(*types.Var); ok && v.Pkg() != nil && v.Parent() == v.Pkg().Scope() {
		return v
	}
	return nil
}

// mapKeys returns the constant string keys of a map composite literal e,
// with their positions.
func mapKeys(p *packages.Package, e ast.Expr) map[string]token.Position {
	lit, _ := ast.Unparen(e).(*ast.CompositeLit)
	if lit == nil {
		return nil
	}
	out := map[string]token.Position{}
	for _, elt := range lit.Elts {
		kv, ok := elt.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		if tv := p.TypesInfo.Types[kv.Key]; tv.Value != nil && tv.Value.Kind() == constant.String {
			out[constant.StringVal(tv.Value)] = p.Fset.Position(kv.Key.Pos())
		}
	}
	return out
}

// KindName derives a kind name from the name of the variable that binds
// it: a default map's, less "Default" and made singular (DefaultClients:
// client, DefaultRegistries: registry, DefaultServerTransports:
// server-transport), or a *runtime.Kind's, less "Kind" (ClientKind:
// client). Where that gives no valid name, it is the package's name; else
// "".
func KindName(varName, pkgName string, isMap bool) string {
	s := varName
	if isMap {
		s = singular(strings.TrimPrefix(s, "Default"))
	} else {
		s = strings.TrimSuffix(s, "Kind")
	}
	for _, c := range []string{kebab(s), kebab(pkgName)} {
		if runtime.CheckKindName(c) == nil {
			return c
		}
	}
	return ""
}

// singular returns an English plural's singular, roughly: Registries:
// Registry, Addresses: Address, Boxes: Box, Clients: Client.
func singular(s string) string {
	switch {
	case strings.HasSuffix(s, "ies"):
		return strings.TrimSuffix(s, "ies") + "y"
	case strings.HasSuffix(s, "sses"), strings.HasSuffix(s, "xes"), strings.HasSuffix(s, "ches"), strings.HasSuffix(s, "shes"):
		return strings.TrimSuffix(s, "es")
	case strings.HasSuffix(s, "s") && !strings.HasSuffix(s, "ss") && !strings.HasSuffix(s, "us") && !strings.HasSuffix(s, "is"):
		return strings.TrimSuffix(s, "s")
	}
	return s
}

// kebab writes a Go name in lower case, its words joined by '-':
// ServerTransport: server-transport, HTTPHandler: http-handler.
func kebab(s string) string {
	rs := []rune(strings.ReplaceAll(s, "_", "-"))
	var b strings.Builder
	for i, r := range rs {
		if i > 0 && unicode.IsUpper(r) && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1])) && rs[i-1] != '-' {
			b.WriteByte('-')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// relPos returns pos with its file name relative to the working
// directory, as compilers print positions.
func relPos(pos token.Position) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, pos.Filename); err == nil {
			pos.Filename = rel
		}
	}
	return pos.String()
}
