// Package archtest guards the direction of plugink's imports: the packages
// a host links (runtime, loader, and a dynamic host's own code) import
// nothing of the generator, and the generator does not import the loader.
package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
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

// TestImportDirection: runtime imports only the standard library; the
// loader only runtime, plugink's std-only internal packages and the
// standard library; gen never imports the loader.
func TestImportDirection(t *testing.T) {
	pkgs := list(t, module+"/...")
	allowed := map[string][]string{
		module + "/runtime":           {},
		module + "/loader":            {module + "/runtime", module + "/internal/fsx", module + "/internal/gocmd", module + "/internal/safetext"},
		module + "/internal/fsx":      {},
		module + "/internal/safetext": {},
	}
	for pkg, ok := range allowed {
		if pkgs[pkg] == nil {
			t.Errorf("no package %s", pkg)
			continue
		}
		for _, imp := range pkgs[pkg].Imports {
			if imp == "C" { // cgo
				continue
			}
			if p := pkgs[imp]; p == nil || !p.Standard && !slices.Contains(ok, imp) {
				t.Errorf("%s imports %s", pkg, imp)
			}
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
}
