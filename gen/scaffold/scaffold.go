package scaffold

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/gen/emit"
	"github.com/plugink/plugink/internal/fsx"
)

// Scaffold is what [Init] or [NewPlugin] writes: new files, and the
// manifest and generated files, written together by [Scaffold.Write].
type Scaffold struct {
	// Files are the files to write.
	Files []gen.File
	// Create are paths (files among Files, and directories) that must not
	// exist: Write never overwrites them.
	Create []string
}

// ExistsError reports a file or directory that plugink init or new would
// have to overwrite. errors.Is(err, fs.ErrExist) is true.
type ExistsError struct {
	// Op is the command ("init"), Path the file or directory, and Why
	// says why it is not overwritten.
	Op, Path, Why string
}

// Error says what exists, and why it stays as it is.
func (e *ExistsError) Error() string { return e.Op + ": " + e.Path + " exists: " + e.Why }

// Is reports whether target is fs.ErrExist.
func (e *ExistsError) Is(target error) bool { return target == fs.ErrExist }

// Write writes the files together, creating the directories they need: all
// of them, or none (the directories it made are removed again). It refuses
// if a path of Create exists.
func (s *Scaffold) Write() error {
	for _, p := range s.Create {
		if _, err := os.Lstat(p); err == nil {
			return &ExistsError{Op: "write", Path: p, Why: "plugink never overwrites it"}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	var made []string
	undo := func() {
		for _, d := range slices.Backward(made) {
			os.Remove(d)
		}
	}
	for _, f := range s.Files {
		var missing []string
		for d := filepath.Dir(f.Path); ; d = filepath.Dir(d) {
			if _, err := os.Lstat(d); err == nil || d == filepath.Dir(d) {
				break
			}
			missing = append(missing, d)
		}
		for _, d := range slices.Backward(missing) {
			if err := os.Mkdir(d, 0o755); err != nil {
				undo()
				return err
			}
			made = append(made, d)
		}
	}
	if err := gen.WriteFiles(s.Files); err != nil {
		undo()
		return err
	}
	return nil
}

// Command writes a plugink command for a user to paste, run from where
// they are: dir is the directory it changes to first (-C), if any.
//
//	Command("cmd/svc", "new", "client", "<name>") // plugink new -C cmd/svc client <name>
func Command(dir, name string, args ...string) string {
	parts := []string{"plugink", name}
	if dir != "" {
		parts = append(parts, "-C", dir)
	}
	return strings.Join(append(parts, args...), " ")
}

// maxHostFile bounds the size of a host file hostFiles reads.
const maxHostFile = 16 << 20

// hostFiles reports whether the host package's own files (not the
// generated ones, nor tests) have a //go:generate line that runs plugink
// gen, and whether they call initPlugins.
func hostFiles(dir string) (directive, callsInit bool) {
	names, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	fset := token.NewFileSet()
	for _, name := range names {
		base := filepath.Base(name)
		if base == emit.StaticFile || base == emit.DynamicFile || strings.HasSuffix(base, "_test.go") {
			continue
		}
		data, err := fsx.ReadFile(name, maxHostFile)
		if err != nil {
			continue
		}
		f, _ := parser.ParseFile(fset, name, data, parser.ParseComments|parser.SkipObjectResolution)
		if f == nil {
			continue
		}
		for _, g := range f.Comments {
			for _, c := range g.List {
				if strings.HasPrefix(c.Text, "//go:generate ") && strings.Contains(c.Text, "plugink gen") {
					directive = true
				}
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if id, ok := call.Fun.(*ast.Ident); ok && id.Name == emit.InitFunc {
					callsInit = true
				}
			}
			return true
		})
	}
	return directive, callsInit
}
