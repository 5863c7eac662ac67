package glue

import (
	"go/importer"
	"go/token"
	"go/types"
	"strings"
	"testing"
)

// TestAnalyzeNeverPanics: Analyze takes, as a constructor, every func
// type declared or used in a few packages of the standard library, and
// answers each with a kind or problems, never a panic.
func TestAnalyzeNeverPanics(t *testing.T) {
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", nil)
	n, accepted := 0, 0
	for _, path := range []string{"net/http", "os", "context", "encoding/json", "go/types", "io/fs"} {
		p, err := imp.Import(path)
		if err != nil {
			t.Fatal(err)
		}
		var sigs []types.Type
		for _, name := range p.Scope().Names() {
			obj := p.Scope().Lookup(name)
			if _, ok := obj.Type().Underlying().(*types.Signature); ok {
				sigs = append(sigs, obj.Type())
			}
			if tn, ok := obj.(*types.TypeName); ok {
				ms := types.NewMethodSet(types.NewPointer(tn.Type()))
				for i := range ms.Len() {
					sigs = append(sigs, ms.At(i).Type())
				}
			}
		}
		for _, sig := range sigs {
			n++
			k, problems := Analyze(fset, "k", sig, p)
			if k == nil && len(problems) == 0 || k != nil && len(problems) > 0 {
				t.Errorf("%s: kind %v with problems %v", sig, k, problems)
			}
			for _, pr := range problems {
				if strings.Contains(pr.Msg, "internal error") {
					t.Errorf("%s: %s", sig, pr.Msg)
				}
			}
			if k != nil {
				accepted++
				_ = k.Shape()
				if _, err := k.Plugin("p", "example.com/p", "New"); err != nil {
					t.Errorf("%s: %v", sig, err)
				}
			}
		}
	}
	t.Logf("%d constructor types, %d accepted", n, accepted)
}
