package glue

import (
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeProto stands for the protobuf packages the analysis looks at, so
// that tests type-check in memory: only their paths and names matter.
var fakeProto = map[string]string{
	"google.golang.org/protobuf/reflect/protoreflect": `package protoreflect
type Message interface{ Interface() ProtoMessage }
type ProtoMessage interface{ ProtoReflect() Message }
`,
	"google.golang.org/protobuf/proto": `package proto
import "google.golang.org/protobuf/reflect/protoreflect"
type Message = protoreflect.ProtoMessage
`,
	"google.golang.org/protobuf/types/known/wrapperspb": `package wrapperspb
import "google.golang.org/protobuf/reflect/protoreflect"
type StringValue struct {
	state int
	Value string
}
func (*StringValue) ProtoReflect() protoreflect.Message { return nil }
`,
}

var (
	stdOnce sync.Once
	std     types.Importer
	stdMu   sync.Mutex
)

// memImporter type-checks packages from source held in memory, and the
// standard library's from GOROOT.
type memImporter struct {
	fset *token.FileSet
	srcs map[string]string
	pkgs map[string]*types.Package
}

func (m *memImporter) Import(path string) (*types.Package, error) {
	if p := m.pkgs[path]; p != nil {
		return p, nil
	}
	src, ok := m.srcs[path]
	if !ok {
		stdOnce.Do(func() { std = importer.ForCompiler(token.NewFileSet(), "source", nil) })
		stdMu.Lock()
		defer stdMu.Unlock()
		return std.Import(path)
	}
	name := path[strings.LastIndex(path, "/")+1:] + ".go"
	f, err := parser.ParseFile(m.fset, name, src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	conf := types.Config{Importer: m}
	p, err := conf.Check(path, m.fset, []*ast.File{f}, nil)
	if err != nil {
		return nil, fmt.Errorf("type-check %s: %w", path, err)
	}
	m.pkgs[path] = p
	return p, nil
}

// check type-checks srcs (import path to the source of one file, with the
// fake protobuf packages) and returns the file set and the package path.
func check(t testing.TB, srcs map[string]string, path string) (*token.FileSet, *types.Package) {
	t.Helper()
	all := map[string]string{}
	for p, s := range fakeProto {
		all[p] = s
	}
	for p, s := range srcs {
		all[p] = s
	}
	m := &memImporter{fset: token.NewFileSet(), srcs: all, pkgs: map[string]*types.Package{}}
	p, err := m.Import(path)
	if err != nil {
		t.Fatal(err)
	}
	return m.fset, p
}

// ctorOf returns the constructor type of the kind bound to the map
// variable name of p.
func ctorOf(t testing.TB, p *types.Package, name string) types.Type {
	t.Helper()
	v, ok := p.Scope().Lookup(name).(*types.Var)
	if !ok {
		t.Fatalf("no variable %s in %s", name, p.Path())
	}
	return v.Type().Underlying().(*types.Map).Elem()
}

// clientKind analyzes testdata/client.go.txt, the go-micro-shaped kind.
func clientKind(t testing.TB) *Kind {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "client.go.txt"))
	if err != nil {
		t.Fatal(err)
	}
	fset, p := check(t, map[string]string{"example.com/svc/client": string(src)}, "example.com/svc/client")
	k, problems := Analyze(fset, "client", ctorOf(t, p, "DefaultClients"), p)
	if len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}
	return k
}
