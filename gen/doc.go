// Package gen turns a checked-in plugin manifest (plugink.yaml) into Go code.
//
// It runs in three stages, one file each, with a plain data type between
// them, as google/wire does:
//
//	manifest.go  parse plugink.yaml        -> *Manifest (positions kept)
//	check.go     type-check with go/packages -> *Checked (real package names, types)
//	gen.go       emit with gen/emit, write atomically
//
// Every stage collects all problems and reports them at once, each as
// "plugink.yaml:LINE:COL: message".
//
// A minimal use, as `plugink gen` does it:
//
//	files, _, err := gen.Generate(ctx, gen.Options{Dir: "."})
//	if err != nil { ... }            // nothing was written
//	err = gen.WriteFiles(files)      // all of them, or none
package gen
