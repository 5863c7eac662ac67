package build

import (
	"bytes"
	"fmt"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"

	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/internal/fsx"
)

// maxSourceFile bounds the size of a file of a package that a generation
// copies.
const maxSourceFile = 256 << 20

// copies returns the files of the generation's copies of pl.renamed, by the
// absolute path the go command sees each at (loader.BuildOptions.Overlay),
// and the import path of the copy of the plugin's package
// (loader.BuildOptions.Import; "" when it is not copied). A Go file is its
// original with every import of a renamed package pointing at the copy,
// and no other byte changed; other files (headers and embedded files: a
// copyable package has no others) are as they are.
func (pl *plan) copies(p *gen.PluginDecl) (importPath string, overlay map[string][]byte, err error) {
	if len(pl.renamed) == 0 {
		return "", nil, nil
	}
	if err := pl.checkCopies(); err != nil {
		return "", nil, err
	}
	to := map[string]string{}
	for _, r := range pl.renamed {
		to[r.ImportPath] = pl.copyPath(r.ImportPath)
	}
	overlay = map[string][]byte{}
	for _, r := range pl.renamed {
		dir := pl.copyDir(r.ImportPath)
		for _, name := range r.goFiles() {
			src, err := fsx.ReadFile(filepath.Join(r.Dir, name), maxSourceFile)
			if err != nil {
				return "", nil, fmt.Errorf("copy package %s: %w", r.ImportPath, err)
			}
			if overlay[filepath.Join(dir, name)], err = rewriteImports(filepath.Join(r.Dir, name), src, to); err != nil {
				return "", nil, fmt.Errorf("copy package %s: %w", r.ImportPath, err)
			}
		}
		for _, name := range r.otherFiles() {
			if _, ok := overlay[filepath.Join(dir, filepath.FromSlash(name))]; ok {
				continue // a Go file that is also embedded: the copy's own
			}
			data, err := fsx.ReadFile(filepath.Join(r.Dir, filepath.FromSlash(name)), maxSourceFile)
			if err != nil {
				return "", nil, fmt.Errorf("copy package %s: %w", r.ImportPath, err)
			}
			overlay[filepath.Join(dir, filepath.FromSlash(name))] = data
		}
	}
	return to[p.Path], overlay, nil
}

// rewriteImports returns the Go source src (of the file name, for errors)
// with the path of each import that to maps replaced by its new path,
// quoted, and every other byte as it was: comments, layout, names, the
// other imports and all that follows them.
func rewriteImports(name string, src []byte, to map[string]string) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.ImportsOnly|parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("read imports: %w", err)
	}
	tf := fset.File(f.Pos())
	var out bytes.Buffer
	last := 0
	for _, spec := range f.Imports {
		lit := spec.Path
		path, err := strconv.Unquote(lit.Value)
		if err != nil {
			return nil, fmt.Errorf("%s: import %s: %w", fset.Position(lit.Pos()), lit.Value, err)
		}
		repl, ok := to[path]
		if !ok {
			continue
		}
		start := tf.Offset(lit.Pos())
		end := start + len(lit.Value)
		if end > len(src) || string(src[start:end]) != lit.Value { // a raw string whose \r the scanner dropped
			return nil, fmt.Errorf("%s: import %s: the literal is not as written", fset.Position(lit.Pos()), lit.Value)
		}
		out.Write(src[last:start])
		out.WriteString(strconv.Quote(repl))
		last = end
	}
	out.Write(src[last:])
	return out.Bytes(), nil
}
