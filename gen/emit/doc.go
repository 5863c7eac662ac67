// Package emit writes the two files plugink generates into a host package,
// with github.com/dave/jennifer: the static registration file ([Static])
// and the dynamic loader file ([Dynamic]). Both are thin: each hands the
// manifest's data to one call of package runtime or package loader, which
// hold the logic.
//
// Emitters take plain, already-validated data ([Host]) and return gofmt'd
// source; the same input gives byte-identical output.
//
//	src, err := emit.Static(emit.Host{Package: "main", Kinds: kinds, Plugins: plugins})
package emit
