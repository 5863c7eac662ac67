package emit

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"strings"
	"testing"
)

// kindSrc declares constructor types of every shape PluginPackage writes.
const kindSrc = `package kind

type Option func(*Options)
type Options struct{ Addr string }
type Msg struct{ Body []byte }
type ID [16]byte
type Level int
type Name string

// Client has methods with every kind of result.
type Client interface {
	Call(ctx interface{ Done() <-chan struct{} }, kind string, opts ...Option) (*Msg, error)
	Stream(in <-chan Msg, out chan<- Msg) (map[string][]ID, func(int) bool)
	Level() (Level, Name, bool, float64, ID, Msg, any)
	Close()
}

type Server struct{ addr string }

type hidden int

var (
	Clients  map[string]func(...Option) Client
	Pair     map[string]func(client string, errors int) (Client, error)
	Servers  map[string]func(addr string) *Server
	Values   map[string]func() struct{ A, B int }
	Generic  map[string]func() Box[Name]
	Unexp    map[string]func(hidden) Client
)

type Box[T any] struct{ V T }
`

func checkSource(t *testing.T, path, src string, imp types.Importer) *types.Package {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path+".go", src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	pkg, err := (&types.Config{Importer: imp}).Check(path, fset, []*ast.File{f}, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	return pkg
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }

// TestPluginPackage: the package compiles, its constructor has exactly the
// kind's type, and its stub implements the kind's interface.
func TestPluginPackage(t *testing.T) {
	kind := checkSource(t, "example.com/kind", kindSrc, nil)
	std := importer.Default()
	imp := importerFunc(func(path string) (*types.Package, error) {
		if path == kind.Path() {
			return kind, nil
		}
		return std.Import(path)
	})
	for _, v := range []string{"Clients", "Pair", "Servers", "Values", "Generic"} {
		t.Run(v, func(t *testing.T) {
			ctor := kind.Scope().Lookup(v).Type().(*types.Map).Elem()
			spec := PluginSpec{Package: PackageName("my-plugin.v2"), Name: "my-plugin.v2", Kind: "client", KindVar: "kind." + v, NewFunc: NewFuncName(ctor), Constructor: ctor}
			src, err := PluginPackage(spec)
			if err != nil {
				t.Fatal(err)
			}
			again, err := PluginPackage(spec)
			if err != nil || string(again) != string(src) {
				t.Fatalf("not deterministic")
			}
			pkg := checkSource(t, "example.com/plugin", string(src), imp)
			if pkg.Name() != "mypluginv2" {
				t.Errorf("package %s", pkg.Name())
			}
			fn := pkg.Scope().Lookup(spec.NewFunc)
			if fn == nil || !types.Identical(fn.Type(), ctor.Underlying()) {
				t.Fatalf("%s has type %v, want %v\n%s", spec.NewFunc, fn, ctor, src)
			}
			if res := ctor.(*types.Signature).Results().At(0).Type(); types.IsInterface(res) {
				if !types.Implements(types.NewPointer(stubType(t, pkg)), res.Underlying().(*types.Interface)) {
					t.Errorf("the stub does not implement %v\n%s", res, src)
				}
			}
		})
	}
}

// stubType returns the one type the plugin package declares.
func stubType(t *testing.T, pkg *types.Package) types.Type {
	t.Helper()
	for _, name := range pkg.Scope().Names() {
		if tn, ok := pkg.Scope().Lookup(name).(*types.TypeName); ok {
			return tn.Type()
		}
	}
	t.Fatalf("no stub type in %s", pkg.Path())
	return nil
}

func TestPluginPackageRefuses(t *testing.T) {
	kind := checkSource(t, "example.com/kind", kindSrc, nil)
	ctor := kind.Scope().Lookup("Unexp").Type().(*types.Map).Elem()
	_, err := PluginPackage(PluginSpec{Package: "p", Name: "p", Kind: "client", NewFunc: "New", Constructor: ctor})
	if err == nil || !strings.Contains(err.Error(), "kind.hidden, which is not exported") {
		t.Errorf("err = %v", err)
	}
	_, err = PluginPackage(PluginSpec{Package: "p", Name: "p", Kind: "client", NewFunc: "New", Constructor: types.Typ[types.Int]})
	if err == nil || !strings.Contains(err.Error(), "not a func type") {
		t.Errorf("err = %v", err)
	}
}

func TestNames(t *testing.T) {
	for plugin, want := range map[string]string{"hello": "hello", "etcd.v3": "etcdv3", "1st": "p1st", "go": "gopkg", "main": "mainplugin", "my_plugin-x": "mypluginx"} {
		if got := PackageName(plugin); got != want {
			t.Errorf("PackageName(%q) = %q, want %q", plugin, got, want)
		}
	}
}
