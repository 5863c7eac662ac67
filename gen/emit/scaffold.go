package emit

import (
	"fmt"
	"go/token"
	"go/types"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dave/jennifer/jen"
)

// GenerateDirective is the line that makes go generate run plugink gen,
// as a tool of the module (go get -tool).
const GenerateDirective = "//go:generate go tool plugink gen"

// GenerateFile returns a small file of package pkg that holds only
// [GenerateDirective], for plugink init to add to a host package without
// editing the host's own files.
func GenerateFile(pkg string) ([]byte, error) {
	f := jen.NewFile(pkg)
	for _, line := range wrap("plugink.yaml lists the plugins this package links: go generate runs plugink gen, which writes "+strings.Join(Files[:len(Files)-1], ", ")+" and "+Files[len(Files)-1]+" from it.", 72) {
		f.Comment(line)
	}
	f.Line()
	f.Comment(GenerateDirective)
	return render(f, "plugink.go")
}

// PluginSpec is what [PluginPackage] writes: a plugin package whose
// constructor has its kind's type.
type PluginSpec struct {
	// Package is the new package's name (see [PackageName]).
	Package string
	// Name and Kind are the plugin's name and its kind's.
	Name, Kind string
	// KindVar is the kind's variable as Go code reads it, for comments
	// ("client.DefaultClients").
	KindVar string
	// NewFunc is the constructor's name (see [NewFuncName]).
	NewFunc string
	// Constructor is the kind's constructor type, a func type.
	Constructor types.Type
}

// PackageName returns the name of a new package for the plugin called
// plugin: its letters and digits, as an identifier that is not a keyword,
// a predeclared name or main.
func PackageName(plugin string) string {
	name := PluginAlias(strings.NewReplacer("-", "", ".", "", "_", "").Replace(plugin))
	if name == "main" {
		name = "mainplugin"
	}
	return name
}

// NewFuncName returns the name of a constructor of type ctor: New followed
// by the name of its first result's type, or of the type it points to
// (NewClient), or New.
func NewFuncName(ctor types.Type) string {
	sig, ok := ctor.Underlying().(*types.Signature)
	if !ok || sig.Results().Len() == 0 {
		return "New"
	}
	res := sig.Results().At(0).Type()
	if p, ok := res.(*types.Pointer); ok {
		res = p.Elem()
	}
	if obj := typeName(res); obj != nil && obj.Exported() {
		return "New" + obj.Name()
	}
	return "New"
}

// typeName returns the name of a named type or alias, or nil.
func typeName(t types.Type) *types.TypeName {
	switch t := t.(type) {
	case *types.Named:
		return t.Obj()
	case *types.Alias:
		return t.Obj()
	}
	return nil
}

// PluginPackage returns the file of a new plugin package: its constructor,
// of exactly the kind's constructor type, returns a stub of the result's
// interface, if it is one, whose methods return zero values, or an error
// that says the method is not implemented.
func PluginPackage(s PluginSpec) ([]byte, error) {
	sig, ok := s.Constructor.Underlying().(*types.Signature)
	if !ok {
		return nil, fmt.Errorf("kind %s: constructor type %s is not a func type", s.Kind, s.Constructor)
	}
	b := &scaffold{PluginSpec: s, sig: sig, iface: -1}
	b.findInterface()
	if err := b.imports(); err != nil {
		return nil, err
	}
	f := jen.NewFile(s.Package)
	for path, name := range b.names {
		if name == b.pkgs[path].Name() {
			f.ImportName(path, name)
		} else {
			f.ImportAlias(path, name)
		}
	}
	for _, line := range wrap(fmt.Sprintf("Package %s is the plugin %q of kind %s: plugink.yaml registers %s under that name in %s.", s.Package, s.Name, s.Kind, s.NewFunc, s.KindVar), 74) {
		f.PackageComment(line)
	}
	f.Add(b.constructor())
	if b.iface >= 0 {
		f.Add(b.stub()...)
	}
	if b.err != nil {
		return nil, b.err
	}
	return render(f, "plugin package")
}

// scaffold builds a plugin package's code.
type scaffold struct {
	PluginSpec
	sig *types.Signature
	// iface is the index of the result whose interface is stubbed, or -1;
	// impl is the stub type's name.
	iface int
	impl  string
	// pkgs are the packages the code refers to and names their names in
	// the file, by import path; taken holds the names of the file scope.
	pkgs  map[string]*types.Package
	names map[string]string
	taken map[string]bool
	err   error
}

// findInterface picks the first result of an interface type other than
// error: the one the constructor returns a stub of.
func (b *scaffold) findInterface() {
	for i := range b.sig.Results().Len() {
		t := b.sig.Results().At(i).Type()
		if _, ok := t.Underlying().(*types.Interface); ok && !isError(t) {
			b.iface = i
			return
		}
	}
}

func isError(t types.Type) bool { return types.Identical(t, types.Universe.Lookup("error").Type()) }

// methods returns the methods of the stubbed interface, sorted by name.
func (b *scaffold) methods() []*types.Func {
	if b.iface < 0 {
		return nil
	}
	it := b.sig.Results().At(b.iface).Type().Underlying().(*types.Interface)
	out := make([]*types.Func, it.NumMethods())
	for i := range out {
		out[i] = it.Method(i)
	}
	return out
}

// imports finds every package the code refers to and names each, in
// import-path order, so that no two share a name; then the stub type's
// name, which none of them may have.
func (b *scaffold) imports() error {
	b.pkgs = map[string]*types.Package{}
	record := func(p *types.Package) string { b.pkgs[p.Path()] = p; return p.Name() }
	types.TypeString(b.sig, record)
	for _, m := range b.methods() {
		if !m.Exported() {
			return fmt.Errorf("kind %s: %s has the unexported method %s: only its own package can implement it", b.Kind, types.TypeString(b.sig.Results().At(b.iface).Type(), nil), m.Name())
		}
		types.TypeString(m.Type(), record)
		if sig := m.Type().(*types.Signature); sig.Results().Len() > 0 && isError(sig.Results().At(sig.Results().Len()-1).Type()) {
			b.pkgs["errors"] = types.NewPackage("errors", "errors")
		}
	}
	b.names, b.taken = map[string]string{}, map[string]bool{}
	for _, path := range slices.Sorted(maps.Keys(b.pkgs)) {
		base := b.pkgs[path].Name()
		name := base
		for i := 2; b.taken[name] || reservedAlias(name); i++ {
			name = base + strconv.Itoa(i)
		}
		b.taken[name], b.names[path] = true, name
	}
	b.impl = "impl"
	if obj := typeName(b.resultType()); obj != nil {
		if name := b.Package + obj.Name(); !b.taken[name] && token.IsIdentifier(name) {
			b.impl = name
		}
	}
	return nil
}

func (b *scaffold) resultType() types.Type {
	if b.iface < 0 {
		return nil
	}
	return b.sig.Results().At(b.iface).Type()
}

// qualify writes a package as the file names it.
func (b *scaffold) qualify(p *types.Package) string { return b.names[p.Path()] }

// constructor returns the constructor with its doc comment.
func (b *scaffold) constructor() jen.Code {
	var results []jen.Code
	for i := range b.sig.Results().Len() {
		t := b.sig.Results().At(i).Type()
		switch {
		case i == b.iface:
			results = append(results, jen.Op("&").Id(b.impl).Values())
		case isError(t):
			results = append(results, jen.Nil())
		default:
			results = append(results, b.zero(t, true))
		}
	}
	doc := fmt.Sprintf("%s returns the plugin %q of kind %s. Its type is the kind's constructor type, which the generated registration checks.", b.NewFunc, b.Name, b.Kind)
	return comments(doc, jen.Func().Id(b.NewFunc).Params(b.params(b.sig, map[string]bool{})...).Add(b.results(b.sig)).Block(jen.Return(results...)))
}

// stub returns the stub type and its methods.
func (b *scaffold) stub() []jen.Code {
	recv := strings.ToLower(b.impl[:1])
	doc := fmt.Sprintf("%s implements %s. Its methods are stubs: fill them in.", b.impl, types.TypeString(b.resultType(), b.qualify))
	out := []jen.Code{comments(doc, jen.Type().Id(b.impl).Struct())}
	for _, m := range b.methods() {
		sig := m.Type().(*types.Signature)
		var results []jen.Code
		for i := range sig.Results().Len() {
			t := sig.Results().At(i).Type()
			if isError(t) && i == sig.Results().Len()-1 {
				results = append(results, jen.Qual("errors", "New").Call(jen.Lit(fmt.Sprintf("%s %s: %s is not implemented", b.Kind, b.Name, m.Name()))))
			} else {
				results = append(results, b.zero(t, false))
			}
		}
		body := jen.Return(results...)
		if len(results) == 0 {
			body = jen.Null()
		}
		out = append(out, comments(m.Name()+" is a stub: fill it in.",
			jen.Func().Params(jen.Id(recv).Op("*").Id(b.impl)).Id(m.Name()).Params(b.params(sig, map[string]bool{recv: true})...).Add(b.results(sig)).Block(body)))
	}
	return out
}

// comments returns code preceded by doc, wrapped in // lines.
func comments(doc string, code jen.Code) jen.Code {
	s := jen.Null()
	for _, line := range wrap(doc, 74) {
		s.Comment(line).Line()
	}
	return s.Add(code).Line()
}

// params returns sig's parameters, each named: its own name if it has a
// usable one, else one derived from its type. used holds the names taken.
func (b *scaffold) params(sig *types.Signature, used map[string]bool) []jen.Code {
	var out []jen.Code
	ps := sig.Params()
	for i := range ps.Len() {
		v := ps.At(i)
		t := v.Type()
		variadic := sig.Variadic() && i == ps.Len()-1
		if variadic {
			t = t.(*types.Slice).Elem()
		}
		name := b.paramName(v.Name(), t, variadic, i, used)
		used[name] = true
		code := jen.Id(name)
		if variadic {
			code.Op("...")
		}
		out = append(out, code.Add(b.typ(t)))
	}
	return out
}

// paramName returns the first usable name of: given, a name for the type,
// argN.
func (b *scaffold) paramName(given string, t types.Type, variadic bool, i int, used map[string]bool) string {
	candidates := []string{given}
	switch obj := typeName(t); {
	case obj != nil && obj.Pkg() != nil && obj.Pkg().Path() == "context" && obj.Name() == "Context":
		candidates = append(candidates, "ctx")
	case variadic && obj != nil && strings.HasSuffix(obj.Name(), "Option"):
		candidates = append(candidates, "opts")
	case obj != nil:
		candidates = append(candidates, lowerFirst(obj.Name()))
	}
	for _, c := range append(candidates, "arg"+strconv.Itoa(i)) {
		if c != "" && c != "_" && token.IsIdentifier(c) && !used[c] && !b.taken[c] && !reservedAlias(c) {
			return c
		}
	}
	return "arg" + strconv.Itoa(i) + "_"
}

func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[n:]
}

// results returns sig's result types, unnamed: nothing, one type, or a
// list in parentheses.
func (b *scaffold) results(sig *types.Signature) jen.Code {
	rs := sig.Results()
	switch rs.Len() {
	case 0:
		return jen.Null()
	case 1:
		return b.typ(rs.At(0).Type())
	}
	var list []jen.Code
	for i := range rs.Len() {
		list = append(list, b.typ(rs.At(i).Type()))
	}
	return jen.Parens(jen.List(list...))
}

// zero returns the zero value of t; in a constructor, a pointer to a
// named struct type is a pointer to a new zero value instead of nil.
func (b *scaffold) zero(t types.Type, constructor bool) jen.Code {
	switch u := t.Underlying().(type) {
	case *types.Basic:
		switch {
		case u.Info()&types.IsBoolean != 0:
			return jen.False()
		case u.Info()&types.IsNumeric != 0:
			return jen.Lit(0)
		case u.Info()&types.IsString != 0:
			return jen.Lit("")
		}
	case *types.Struct, *types.Array:
		return b.typ(t).Values()
	case *types.Pointer:
		if _, ok := u.Elem().Underlying().(*types.Struct); ok && constructor && typeName(u.Elem()) != nil {
			return jen.Op("&").Add(b.typ(u.Elem())).Values()
		}
	}
	return jen.Nil()
}

// typ returns t as Go code, its packages qualified as the file names them.
// A type plugin code cannot write (an unexported type of another package,
// a struct with tags) sets b.err.
func (b *scaffold) typ(t types.Type) *jen.Statement {
	switch t := t.(type) {
	case *types.Basic:
		if t.Kind() == types.UnsafePointer {
			return jen.Qual("unsafe", "Pointer")
		}
		return jen.Id(t.Name())
	case *types.Named, *types.Alias:
		return b.named(t)
	case *types.Pointer:
		return jen.Op("*").Add(b.typ(t.Elem()))
	case *types.Slice:
		return jen.Index().Add(b.typ(t.Elem()))
	case *types.Array:
		return jen.Index(jen.Lit(int(t.Len()))).Add(b.typ(t.Elem()))
	case *types.Map:
		return jen.Map(b.typ(t.Key())).Add(b.typ(t.Elem()))
	case *types.Chan:
		switch t.Dir() {
		case types.SendOnly:
			return jen.Chan().Op("<-").Add(b.typ(t.Elem()))
		case types.RecvOnly:
			return jen.Op("<-").Chan().Add(b.typ(t.Elem()))
		}
		return jen.Chan().Add(b.typ(t.Elem()))
	case *types.Signature:
		return jen.Func().Params(b.paramTypes(t)...).Add(b.results(t))
	case *types.Struct:
		var fields []jen.Code
		for i := range t.NumFields() {
			f := t.Field(i)
			if t.Tag(i) != "" {
				b.fail(fmt.Errorf("kind %s: constructor type has a struct with tags, which plugink new does not write", b.Kind))
			}
			if f.Embedded() {
				fields = append(fields, b.typ(f.Type()))
			} else {
				fields = append(fields, jen.Id(f.Name()).Add(b.typ(f.Type())))
			}
		}
		return jen.Struct(fields...)
	case *types.Interface:
		var methods []jen.Code
		for i := range t.NumMethods() {
			m := t.Method(i)
			sig := m.Type().(*types.Signature)
			methods = append(methods, jen.Id(m.Name()).Params(b.paramTypes(sig)...).Add(b.results(sig)))
		}
		return jen.Interface(methods...)
	}
	b.fail(fmt.Errorf("kind %s: plugink new cannot write the type %s", b.Kind, t))
	return jen.Null()
}

// paramTypes returns the types of sig's parameters, unnamed.
func (b *scaffold) paramTypes(sig *types.Signature) []jen.Code {
	var out []jen.Code
	for i := range sig.Params().Len() {
		p := sig.Params().At(i).Type()
		if sig.Variadic() && i == sig.Params().Len()-1 {
			out = append(out, jen.Op("...").Add(b.typ(p.(*types.Slice).Elem())))
			continue
		}
		out = append(out, b.typ(p))
	}
	return out
}

// named returns a named type or alias, with its type arguments.
func (b *scaffold) named(t types.Type) *jen.Statement {
	obj := typeName(t)
	var s *jen.Statement
	switch {
	case obj.Pkg() == nil:
		s = jen.Id(obj.Name())
	case !obj.Exported():
		b.fail(fmt.Errorf("kind %s: the constructor type refers to %s.%s, which is not exported: only package %s can have that type", b.Kind, obj.Pkg().Name(), obj.Name(), obj.Pkg().Path()))
		return jen.Null()
	default:
		s = jen.Qual(obj.Pkg().Path(), obj.Name())
	}
	var args *types.TypeList
	switch t := t.(type) {
	case *types.Named:
		args = t.TypeArgs()
	case *types.Alias:
		args = t.TypeArgs()
	}
	if args.Len() > 0 {
		var list []jen.Code
		for i := range args.Len() {
			list = append(list, b.typ(args.At(i)))
		}
		s.Types(list...)
	}
	return s
}

func (b *scaffold) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// wrap breaks text into lines of at most width bytes, at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}
