// Package emit writes the Go code plugink generates, with
// github.com/dave/jennifer: the static registration file and the dynamic
// loader file of a host package ([Static], [Dynamic]), and the main package
// of each plugin .so ([PluginMain]).
//
// Emitters take plain, already-validated data ([Host], [PluginMainSpec]) and
// return gofmt'd source; the same input gives byte-identical output.
//
//	src, err := emit.Static(emit.Host{Package: "main", Kinds: kinds, Plugins: plugins})
package emit
