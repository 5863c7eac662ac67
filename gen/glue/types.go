package glue

import (
	"fmt"
	"go/types"
	"strconv"
	"strings"

	"github.com/dave/jennifer/jen"
)

// errorType is the predeclared error.
var errorType = types.Universe.Lookup("error").Type()

// isError reports whether t is error.
func isError(t types.Type) bool { return types.Identical(t, errorType) }

// isNamed reports whether t is the named type path.name.
func isNamed(t types.Type, path, name string) bool {
	n, ok := types.Unalias(t).(*types.Named)
	if !ok {
		return false
	}
	obj := n.Obj()
	return obj.Pkg() != nil && obj.Pkg().Path() == path && obj.Name() == name
}

// isContext reports whether t is context.Context.
func isContext(t types.Type) bool { return isNamed(t, "context", "Context") }

// isMessage reports whether t is the interface of protocol buffers
// messages, proto.Message (an alias of protoreflect.ProtoMessage).
func isMessage(t types.Type) bool { return isNamed(t, protoreflectPath, "ProtoMessage") }

// isMessagePtr reports whether t is a pointer to a named type whose method
// set has ProtoReflect() protoreflect.Message: a generated message type.
func isMessagePtr(t types.Type) bool {
	p, ok := types.Unalias(t).(*types.Pointer)
	if !ok {
		return false
	}
	if _, ok := types.Unalias(p.Elem()).(*types.Named); !ok {
		return false
	}
	sel := types.NewMethodSet(p).Lookup(nil, "ProtoReflect")
	if sel == nil {
		return false
	}
	sig := sel.Type().(*types.Signature)
	return sig.Params().Len() == 0 && sig.Results().Len() == 1 && isNamed(sig.Results().At(0).Type(), protoreflectPath, "Message")
}

// marshals reports whether the named type t implements
// encoding.BinaryMarshaler and BinaryUnmarshaler, or gob.GobEncoder and
// GobDecoder (with a pointer receiver or not): gob then carries it whatever
// its fields.
func marshals(t types.Type) bool {
	ms := types.NewMethodSet(types.NewPointer(t))
	bytes := types.NewSlice(types.Typ[types.Byte])
	encoder := func(name string) bool {
		sel := ms.Lookup(nil, name)
		if sel == nil {
			return false
		}
		sig := sel.Type().(*types.Signature)
		return sig.Params().Len() == 0 && sig.Results().Len() == 2 && types.Identical(sig.Results().At(0).Type(), bytes) && isError(sig.Results().At(1).Type())
	}
	decoder := func(name string) bool {
		sel := ms.Lookup(nil, name)
		if sel == nil {
			return false
		}
		sig := sel.Type().(*types.Signature)
		return sig.Params().Len() == 1 && sig.Results().Len() == 1 && types.Identical(sig.Params().At(0).Type(), bytes) && isError(sig.Results().At(0).Type())
	}
	return encoder("MarshalBinary") && decoder("UnmarshalBinary") || encoder("GobEncode") && decoder("GobDecode")
}

const messageInside = "a protocol buffers message crosses only as a parameter or result of its own, not inside another value"

// cross returns why a value of type t cannot cross a process with gob, or
// "" if it can.
func (a *analyzer) cross(t types.Type) string {
	switch t := types.Unalias(t).(type) {
	case *types.Basic:
		switch {
		case t.Kind() == types.Uintptr:
			return "a uintptr"
		case t.Kind() == types.UnsafePointer:
			return "an unsafe.Pointer"
		case t.Info()&types.IsUntyped == 0 && t.Info()&(types.IsBoolean|types.IsNumeric|types.IsString) != 0:
			return ""
		}
		return "not a value type"
	case *types.Named:
		return a.crossNamed(t)
	case *types.Pointer:
		if isMessagePtr(t) {
			return messageInside
		}
		if _, ok := t.Elem().Underlying().(*types.Pointer); ok {
			return "a pointer to a pointer"
		}
		return a.cross(t.Elem())
	case *types.Slice:
		return a.crossElem("element", t.Elem())
	case *types.Array:
		return a.crossElem("element", t.Elem())
	case *types.Map:
		if r := a.crossElem("key", t.Key()); r != "" {
			return r
		}
		if !types.Comparable(t.Key()) {
			return fmt.Sprintf("key %s: not comparable", typeString(t.Key()))
		}
		return a.crossElem("value", t.Elem())
	case *types.Struct:
		return a.crossStruct(t, "")
	case *types.Chan:
		return "a channel"
	case *types.Signature:
		return "a func"
	case *types.Interface:
		return "an interface; only error, context.Context and proto.Message cross, as parameters or results"
	case *types.TypeParam:
		return "a type parameter"
	}
	return "not a value type"
}

// crossElem is cross for a part (what) of a composite type.
func (a *analyzer) crossElem(what string, t types.Type) string {
	if r := a.cross(t); r != "" {
		return fmt.Sprintf("%s %s: %s", what, typeString(t), r)
	}
	return ""
}

// crossNamed is cross for a named type, cached.
func (a *analyzer) crossNamed(n *types.Named) string {
	obj := n.Obj()
	switch {
	case isError(n):
		return "an error crosses only as a parameter or result of its own, not inside another value"
	case obj.Pkg() == nil:
		return "not a value type"
	case isContext(n):
		return "a context.Context crosses only as a method's parameter, or as a field of an option's struct, where it must be unset"
	case isMessage(n):
		return messageInside
	}
	key := shapeType(n)
	if r, ok := a.crossed[key]; ok {
		return r
	}
	a.crossed[key] = ""
	var r string
	switch u := n.Underlying().(type) {
	case *types.Struct:
		if marshals(n) {
			a.k.named["type "+key] = "marshaled"
			break
		}
		if r = a.crossStruct(u, typeString(n)); r == "" {
			a.k.named["type "+key] = shapeType(u)
		}
	default:
		if r = a.cross(u); r == "" {
			a.k.named["type "+key] = shapeType(u)
		}
	}
	a.crossed[key] = r
	return r
}

// crossStruct is cross for a struct type, named name or unnamed ("").
func (a *analyzer) crossStruct(s *types.Struct, name string) string {
	if s.NumFields() == 0 {
		return "an empty struct"
	}
	prefix := "field "
	if name != "" {
		prefix += name + "."
	}
	for i := range s.NumFields() {
		f := s.Field(i)
		if !f.Exported() {
			return prefix + f.Name() + " is unexported; a struct crosses with exported fields only, unless it implements encoding.BinaryMarshaler and BinaryUnmarshaler, or gob.GobEncoder and GobDecoder"
		}
		if r := a.cross(f.Type()); r != "" {
			return prefix + f.Name() + ": " + r
		}
	}
	return ""
}

// spell returns why generated code cannot write the type t, or "" if it
// can.
func (a *analyzer) spell(t types.Type) string {
	switch t := t.(type) {
	case *types.Alias:
		if a.k.aliasOK(t) {
			a.k.pkgs[t.Obj().Pkg().Path()] = t.Obj().Pkg().Name()
			return ""
		}
		return a.spell(types.Unalias(t))
	case *types.Named:
		obj := t.Obj()
		switch {
		case obj.Pkg() == nil:
			return ""
		case !obj.Exported():
			return typeString(t) + " is not exported"
		case obj.Pkg().Scope().Lookup(obj.Name()) != obj:
			return typeString(t) + " is declared inside a function"
		}
		if r := a.k.importable(obj.Pkg()); r != "" {
			return r
		}
		a.k.pkgs[obj.Pkg().Path()] = obj.Pkg().Name()
		for i := range t.TypeArgs().Len() {
			if r := a.spell(t.TypeArgs().At(i)); r != "" {
				return r
			}
		}
	case *types.Pointer:
		return a.spell(t.Elem())
	case *types.Slice:
		return a.spell(t.Elem())
	case *types.Array:
		return a.spell(t.Elem())
	case *types.Map:
		if r := a.spell(t.Key()); r != "" {
			return r
		}
		return a.spell(t.Elem())
	case *types.Struct:
		for i := range t.NumFields() {
			if r := a.spell(t.Field(i).Type()); r != "" {
				return r
			}
		}
	case *types.Signature:
		for _, tup := range []*types.Tuple{t.Params(), t.Results()} {
			for i := range tup.Len() {
				if r := a.spell(tup.At(i).Type()); r != "" {
					return r
				}
			}
		}
	case *types.TypeParam:
		return "a type parameter"
	}
	return ""
}

// importable returns why the host or the plugin's main package cannot
// import p, or "". A simple rule stands for the go command's: an internal
// package is importable if the kind's package could import it.
func (k *Kind) importable(p *types.Package) string {
	if p.Name() == "main" {
		return fmt.Sprintf("package %s is a main package, which cannot be imported", p.Path())
	}
	path := p.Path()
	var parent string
	switch {
	case path == "internal" || strings.HasPrefix(path, "internal/"):
		return fmt.Sprintf("package %s is internal to the standard library", path)
	case strings.HasSuffix(path, "/internal"):
		parent = strings.TrimSuffix(path, "/internal")
	case strings.Contains(path, "/internal/"):
		parent = path[:strings.LastIndex(path, "/internal/")]
	default:
		return ""
	}
	if k.kindPkg != nil && (k.kindPkg.Path() == parent || strings.HasPrefix(k.kindPkg.Path(), parent+"/")) {
		return ""
	}
	return fmt.Sprintf("package %s is internal to %s, which the host may not be in", path, parent)
}

// aliasOK reports whether generated code may write the alias t by its
// name: exported, declared at package level of an importable package, not
// generic.
func (k *Kind) aliasOK(t *types.Alias) bool {
	obj := t.Obj()
	return obj.Pkg() != nil && obj.Exported() && obj.Pkg().Scope().Lookup(obj.Name()) == obj &&
		t.TypeArgs().Len() == 0 && t.TypeParams().Len() == 0 && k.importable(obj.Pkg()) == ""
}

// typeString writes t as Go code reads it, with package names.
func typeString(t types.Type) string {
	return types.TypeString(t, func(p *types.Package) string { return p.Name() })
}

// shapeType writes t canonically: aliases resolved, full package paths.
func shapeType(t types.Type) string {
	var b strings.Builder
	writeShape(&b, t)
	return b.String()
}

func writeShape(b *strings.Builder, t types.Type) {
	switch t := types.Unalias(t).(type) {
	case *types.Basic:
		b.WriteString(types.Typ[t.Kind()].Name())
	case *types.Named:
		obj := t.Obj()
		if obj.Pkg() != nil {
			b.WriteString(obj.Pkg().Path() + ".")
		}
		b.WriteString(obj.Name())
		if args := t.TypeArgs(); args.Len() > 0 {
			b.WriteByte('[')
			for i := range args.Len() {
				if i > 0 {
					b.WriteString(", ")
				}
				writeShape(b, args.At(i))
			}
			b.WriteByte(']')
		}
	case *types.Pointer:
		b.WriteByte('*')
		writeShape(b, t.Elem())
	case *types.Slice:
		b.WriteString("[]")
		writeShape(b, t.Elem())
	case *types.Array:
		fmt.Fprintf(b, "[%d]", t.Len())
		writeShape(b, t.Elem())
	case *types.Map:
		b.WriteString("map[")
		writeShape(b, t.Key())
		b.WriteByte(']')
		writeShape(b, t.Elem())
	case *types.Struct:
		b.WriteString("struct{")
		for i := range t.NumFields() {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(t.Field(i).Name() + " ")
			writeShape(b, t.Field(i).Type())
		}
		b.WriteByte('}')
	case *types.Signature:
		b.WriteString("func(")
		for i := range t.Params().Len() {
			if i > 0 {
				b.WriteString(", ")
			}
			pt := t.Params().At(i).Type()
			if t.Variadic() && i == t.Params().Len()-1 {
				b.WriteString("...")
				pt = pt.(*types.Slice).Elem()
			}
			writeShape(b, pt)
		}
		b.WriteByte(')')
		switch n := t.Results().Len(); {
		case n == 1:
			b.WriteByte(' ')
			writeShape(b, t.Results().At(0).Type())
		case n > 1:
			b.WriteString(" (")
			for i := range n {
				if i > 0 {
					b.WriteString(", ")
				}
				writeShape(b, t.Results().At(i).Type())
			}
			b.WriteByte(')')
		}
	default:
		b.WriteString(types.TypeString(t, func(p *types.Package) string { return p.Path() }))
	}
}

// typ returns the code of the type t.
func (k *Kind) typ(t types.Type) *jen.Statement {
	switch t := t.(type) {
	case *types.Alias:
		if k.aliasOK(t) {
			return jen.Qual(t.Obj().Pkg().Path(), t.Obj().Name())
		}
		return k.typ(types.Unalias(t))
	case *types.Named:
		obj := t.Obj()
		if obj.Pkg() == nil {
			return jen.Id(obj.Name())
		}
		s := jen.Qual(obj.Pkg().Path(), obj.Name())
		if args := t.TypeArgs(); args.Len() > 0 {
			var list []jen.Code
			for i := range args.Len() {
				list = append(list, k.typ(args.At(i)))
			}
			s.Types(list...)
		}
		return s
	case *types.Basic:
		return jen.Id(t.Name())
	case *types.Pointer:
		return jen.Op("*").Add(k.typ(t.Elem()))
	case *types.Slice:
		return jen.Index().Add(k.typ(t.Elem()))
	case *types.Array:
		return jen.Index(jen.Lit(int(t.Len()))).Add(k.typ(t.Elem()))
	case *types.Map:
		return jen.Map(k.typ(t.Key())).Add(k.typ(t.Elem()))
	case *types.Struct:
		var fields []jen.Code
		for i := range t.NumFields() {
			f := t.Field(i)
			s := jen.Null()
			if !f.Embedded() {
				s = jen.Id(f.Name())
			}
			s.Add(k.typ(f.Type()))
			if tag := t.Tag(i); tag != "" {
				s.Op(strconv.Quote(tag))
			}
			fields = append(fields, s)
		}
		return jen.Struct(fields...)
	case *types.Signature:
		return jen.Func().Add(k.signature(t, nil))
	case *types.Interface:
		if t.Empty() {
			return jen.Any()
		}
	}
	return jen.Id(types.TypeString(t, nil)) // not reached: Analyze refuses the rest
}

// signature returns the code of sig's parameters and results; names, if
// given, names the parameters.
func (k *Kind) signature(sig *types.Signature, names []string) *jen.Statement {
	var params, results []jen.Code
	for i := range sig.Params().Len() {
		t := sig.Params().At(i).Type()
		s := jen.Null()
		if names != nil {
			s = jen.Id(names[i])
		}
		if sig.Variadic() && i == sig.Params().Len()-1 {
			s.Op("...").Add(k.typ(types.Unalias(t).(*types.Slice).Elem()))
		} else {
			s.Add(k.typ(t))
		}
		params = append(params, s)
	}
	for i := range sig.Results().Len() {
		results = append(results, k.typ(sig.Results().At(i).Type()))
	}
	s := jen.Params(params...)
	switch len(results) {
	case 0:
	case 1:
		s.Add(results[0])
	default:
		s.Params(results...)
	}
	return s
}

// zero returns the code of t's zero value.
func (k *Kind) zero(t types.Type) jen.Code {
	switch u := t.Underlying().(type) {
	case *types.Basic:
		switch {
		case u.Info()&types.IsBoolean != 0:
			return jen.False()
		case u.Info()&types.IsString != 0:
			return jen.Lit("")
		case u.Info()&types.IsNumeric != 0:
			return jen.Lit(0)
		}
	case *types.Struct, *types.Array:
		return k.typ(t).Values()
	}
	return jen.Nil()
}
