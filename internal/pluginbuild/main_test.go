package pluginbuild

import (
	"encoding/json"
	"flag"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/runtime"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/pluginmain")

// pluginMainCases are the inputs of testdata/pluginmain/<name>.golden.
var pluginMainCases = []struct {
	name    string
	c       runtime.Config
	version string
}{
	{"basic", runtime.Config{Name: "brpc", Type: "client", Path: "example.com/plugins/brpc", NewFunc: "NewClient"}, "v1.2.3"},
	// The package's own name does not matter: it is imported as impl.
	{"major_version", runtime.Config{Name: "brpc", Type: "client", Path: "example.com/plugins/brpc/v2", NewFunc: "NewClient"}, "v1.2.3"},
	{"odd_path", runtime.Config{Name: "v1.2_x-y", Type: "rpc-client", Path: "example.com/plugins/go-brpc.v1~x+y", NewFunc: "New"}, "(devel)"},
	// A path that sorts before plugink's runtime: the imports swap.
	{"sorts_first", runtime.Config{Name: "a", Type: "b", Path: "aaa.example/p", NewFunc: "New"}, ""},
}

func TestPluginMainGolden(t *testing.T) {
	for _, tc := range pluginMainCases {
		t.Run(tc.name, func(t *testing.T) {
			got := Main(&tc.c, tc.c.NewFunc.(string), tc.c.Path, tc.version)
			golden := filepath.Join("testdata", "pluginmain", tc.name+".golden")
			if *update {
				require.NoError(t, os.WriteFile(golden, got, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -run PluginMain -update to create it")
			assert.Equal(t, string(want), string(got))
		})
	}
}

// FuzzPluginMain: for any Config Build accepts, the source is gofmt'd,
// parses, declares what the loader relies on, and its metadata decodes
// back to the Config.
func FuzzPluginMain(f *testing.F) {
	for _, tc := range pluginMainCases {
		f.Add(tc.c.Name, tc.c.Type, tc.c.Path, tc.c.NewFunc.(string), tc.version)
	}
	f.Fuzz(func(t *testing.T, name, typ, path, newFunc, version string) {
		c := &runtime.Config{Name: name, Type: typ, Path: path, NewFunc: newFunc}
		if _, err := CheckConfig(c); err != nil || !utf8.ValidString(version) {
			return // a version comes from build information: valid UTF-8
		}
		src := Main(c, newFunc, c.Path, version)
		formatted, err := format.Source(src)
		require.NoError(t, err, "%s", src)
		require.Equal(t, string(formatted), string(src), "gofmt'd")
		checkPluginMain(t, src, c, version)
	})
}

// checkPluginMain parses src and checks the declarations the loader and
// Inspect rely on.
func checkPluginMain(t *testing.T, src []byte, c *runtime.Config, version string) {
	file, err := parser.ParseFile(token.NewFileSet(), "main.go", src, parser.ParseComments)
	require.NoError(t, err)
	require.Equal(t, "main", file.Name.Name)
	imports := map[string]string{}
	for _, imp := range file.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		imports[path] = imp.Name.Name
	}
	require.Equal(t, map[string]string{c.Path: pluginImport, runtimePath: runtimeImport}, imports)
	vars := map[string]*ast.CompositeLit{}
	for _, d := range file.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.VAR {
			spec := g.Specs[0].(*ast.ValueSpec)
			vars[spec.Names[0].Name] = spec.Values[0].(*ast.CompositeLit)
		}
	}
	newFunc := vars["Plugin"].Elts[3].(*ast.KeyValueExpr).Value.(*ast.SelectorExpr)
	require.Equal(t, pluginImport+"."+c.NewFunc.(string), newFunc.X.(*ast.Ident).Name+"."+newFunc.Sel.Name)
	var b strings.Builder
	for _, e := range vars[MetadataVar].Elts {
		n, err := strconv.Atoi(e.(*ast.BasicLit).Value)
		require.NoError(t, err)
		b.WriteByte(byte(n))
	}
	var m Metadata
	require.NoError(t, json.Unmarshal([]byte(b.String()), &m))
	require.Equal(t, Metadata{Name: c.Name, Type: c.Type, Path: c.Path, NewFunc: c.NewFunc.(string), Plugink: version}, m)
}
