// Package archtest guards plugink's shape: the packages a host links
// (runtime, loader, and a dynamic host's own code) import nothing of the
// generator, imports run one way, the generator does not import the
// loader, no package is over 2,000 lines, and the loader's exported
// surface stays small.
package archtest

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/plugink/plugink"

// generatorOnly are packages (or prefixes) a host must never link.
var generatorOnly = []string{
	"github.com/dave/jennifer", "go/ast", "go/parser", "go/printer", "go/format", "go/types",
	"golang.org/x/tools", "golang.org/x/mod", "go.yaml.in/yaml", "gopkg.in/yaml",
	module + "/gen", module + "/build", module + "/cmd",
}

type listed struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Deps       []string
}

// list runs go list -deps -json with args and returns the packages by path.
func list(t *testing.T, args ...string) map[string]*listed {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-deps", "-json"}, args...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", strings.Join(args, " "), err)
	}
	pkgs := map[string]*listed{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			return pkgs
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = &p
	}
}

func isGeneratorOnly(path string) bool {
	if strings.HasPrefix(path, module+"/gen/testdata/") { // the test host itself
		return false
	}
	for _, g := range generatorOnly {
		if path == g || strings.HasPrefix(path, g+"/") {
			return true
		}
	}
	return false
}

// TestHostsLinkNoGenerator: neither the loader nor a host built with
// -tags plugink_dynamic (gen's test host, which declares a plain map and a
// runtime.Kind) depends on generator code.
func TestHostsLinkNoGenerator(t *testing.T) {
	for _, args := range [][]string{
		{module + "/runtime"},
		{module + "/loader"},
		{"-tags", "plugink_dynamic", module + "/gen/testdata/ok/greeter"},
		{module + "/gen/testdata/ok/greeter"},
	} {
		pkgs := list(t, args...)
		for path := range pkgs {
			if isGeneratorOnly(path) {
				t.Errorf("go list -deps %s includes %s", strings.Join(args, " "), path)
			}
		}
	}
}

// layers says what each package a host links may import besides the
// standard library: imports run one way, down this table, and every
// package of plugink's own that a dynamic host links is in it.
var layers = map[string][]string{
	"runtime":                    {},
	"internal/fsx":               {},
	"internal/gocmd":             {},
	"internal/safetext":          {},
	"internal/self":              {"runtime"},
	"internal/settings":          {"runtime"},
	"internal/layout":            {"runtime"},
	"internal/sums":              {"internal/fsx", "internal/safetext"},
	"internal/signature":         {"internal/fsx"},
	"internal/pluginbuild":       {"runtime", "internal/fsx", "internal/gocmd", "internal/layout", "internal/self", "internal/settings", "internal/sums"},
	"loader/internal/mapped":     {"internal/fsx"},
	"loader/internal/pluginfile": {"runtime", "internal/settings", "loader/internal/mapped"},
	"loader/internal/hostcmp":    {"internal/fsx", "internal/safetext", "internal/self", "internal/settings", "loader/internal/pluginfile"},
	"loader/internal/records":    {"runtime", "internal/fsx", "internal/self", "loader/internal/pluginfile"},
	"loader/internal/opened":     {"runtime", "internal/fsx", "internal/sums", "loader/internal/pluginfile"},
	"loader/internal/trial":      {"internal/self", "loader/internal/opened"},
	"loader/internal/snapshot":   {"internal/fsx", "loader/internal/pluginfile"},
	"loader/internal/lineage":    {"runtime", "internal/layout"},
	"loader/dynamic":             {},
	"loader": {"runtime", "internal/fsx", "internal/layout", "internal/safetext", "internal/pluginbuild", "internal/self", "internal/settings", "internal/signature", "internal/sums",
		"loader/internal/hostcmp", "loader/internal/mapped", "loader/internal/opened", "loader/internal/pluginfile", "loader/internal/lineage", "loader/internal/records", "loader/internal/snapshot", "loader/internal/trial"},
}

// TestImportDirection: each package of the layers imports only what its
// row allows (so runtime only the standard library, and no package under
// loader/internal the loader); every plugink package the loader links
// has a row; gen never imports the loader or build.
func TestImportDirection(t *testing.T) {
	pkgs := list(t, module+"/...")
	for pkg, ok := range layers {
		p := pkgs[module+"/"+pkg]
		if p == nil {
			t.Errorf("no package %s", pkg)
			continue
		}
		for _, imp := range p.Imports {
			if imp == "C" { // cgo
				continue
			}
			if q := pkgs[imp]; q == nil || !q.Standard && !slices.Contains(ok, strings.TrimPrefix(imp, module+"/")) {
				t.Errorf("%s imports %s", pkg, imp)
			}
		}
	}
	for _, d := range pkgs[module+"/loader"].Deps {
		if rel, ok := strings.CutPrefix(d, module+"/"); ok && layers[rel] == nil {
			t.Errorf("the loader links %s, which has no row in layers", d)
		}
	}
	for path, p := range pkgs {
		if path == module+"/gen" || strings.HasPrefix(path, module+"/gen/") {
			for _, d := range p.Deps {
				if d == module+"/loader" || d == module+"/build" {
					t.Errorf("%s depends on %s", path, d)
				}
			}
		}
	}
	// A process host and a plugin executable link package process: it
	// links neither the loader nor the generator, and the loader does
	// not link it (nor go-plugin): a dynamic host pays nothing for the
	// third mode.
	if p := pkgs[module+"/process"]; p == nil {
		t.Error("no package process")
	} else {
		for _, d := range p.Deps {
			rel, ok := strings.CutPrefix(d, module+"/")
			if ok && (rel == "loader" || strings.HasPrefix(rel, "loader/") || rel == "gen" || strings.HasPrefix(rel, "gen/") || rel == "build") {
				t.Errorf("process depends on %s", d)
			}
		}
	}
	for _, d := range pkgs[module+"/loader"].Deps {
		if d == module+"/process" || strings.HasPrefix(d, "github.com/hashicorp/") {
			t.Errorf("the loader links %s", d)
		}
	}
}

// maxPackageLines bounds a package's size: lines of its non-test files,
// as wc -l counts them.
const maxPackageLines = 2000

// TestPackageSizes: no package of the module is over maxPackageLines
// lines of Go (tests and testdata not counted).
func TestPackageSizes(t *testing.T) {
	root := filepath.Join("..", "..")
	sizes := map[string]int{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "examples" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sizes[filepath.Dir(path)] += strings.Count(string(data), "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for dir, n := range sizes {
		if n > maxPackageLines {
			t.Errorf("%s: %d lines, over %d", dir, n, maxPackageLines)
		}
	}
}

// maxLoaderSurface bounds the loader's exported identifiers (methods and
// fields not counted): what a user of the dynamic path needs, and no more.
const maxLoaderSurface = 50

// TestLoaderSurface: the loader exports at most maxLoaderSurface
// identifiers, each with a doc comment.
func TestLoaderSurface(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join("..", "..", "loader", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.IsExported() {
					names = append(names, d.Name.Name)
					if d.Doc == nil {
						t.Errorf("%s: no doc comment", d.Name.Name)
					}
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							names = append(names, s.Name.Name)
							if s.Doc == nil && d.Doc == nil {
								t.Errorf("%s: no doc comment", s.Name.Name)
							}
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								names = append(names, n.Name)
								if s.Doc == nil && d.Doc == nil {
									t.Errorf("%s: no doc comment", n.Name)
								}
							}
						}
					}
				}
			}
		}
	}
	slices.Sort(names)
	t.Logf("%d exported identifiers: %s", len(names), strings.Join(names, " "))
	if len(names) > maxLoaderSurface {
		t.Errorf("the loader exports %d identifiers, over %d", len(names), maxLoaderSurface)
	}
}
