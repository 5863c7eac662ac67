package gen

import "go/types"

// KindType reports whether a variable of type t can bind a kind, as the
// manifest's kinds section takes one: a map[string]F or a
// *runtime.Kind[F], F a func type. It returns F, and whether t is a map.
func KindType(t types.Type) (f types.Type, isMap, ok bool) {
	switch t := types.Unalias(t); {
	case isMapKind(t):
		f, isMap = t.Underlying().(*types.Map).Elem(), true
	case isRuntimeKind(t):
		f = types.Unalias(t.(*types.Pointer).Elem()).(*types.Named).TypeArgs().At(0)
	default:
		return nil, false, false
	}
	_, ok = f.Underlying().(*types.Signature)
	return f, isMap, ok
}

// SplitQualified splits a qualified Go name, import/path.Name, as the
// manifest's kinds section takes it, at the last dot after the last slash;
// ok is false if s is not one, or Name is not exported.
func SplitQualified(s string) (pkg, name string, ok bool) { return splitQualified(s) }

// TypeString writes t as Go code reads it, its packages by their names
// (func(...client.Option) client.Client), as plugink's messages do.
func TypeString(t types.Type) string { return types.TypeString(t, qualifier) }
