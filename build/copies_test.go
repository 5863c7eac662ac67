package build

import (
	"go/parser"
	"go/token"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRewriteImports: only the paths of the renamed packages change, as
// written, whatever form their import takes; every other byte stays.
func TestRewriteImports(t *testing.T) {
	const src = "// Package p has imports of every form.\n" +
		"package p\n" +
		"\n" +
		"/*\n" +
		"#include \"p.h\" // \"example.com/svc/helper\" in a comment\n" +
		"*/\n" +
		"import \"C\"\n" +
		"\n" +
		"import (\n" +
		"\t\"fmt\" // a comment\n" +
		"\th \"example.com/svc/helper\"   /* aligned */\n" +
		"\t. \"example.com/svc/dot\"\n" +
		"\t_ \"example.com/svc/blank\"\n" +
		"\t`example.com/svc/raw`\n" +
		"\t\"example.com/svc/helperx\"\n" +
		"\t\"example.com/other/svc/helper\"\n" +
		"\t\"example.com/svc/\\x68elper/sub\"\n" +
		")\n" +
		"\n" +
		"import \"example.com/svc/single\"; import \"strings\"\n" +
		"\n" +
		"var _ = \"example.com/svc/helper\"\n"
	const gen = "example.com/svc/_plugink/client/loud/g1"
	to := map[string]string{}
	for _, p := range []string{"helper", "dot", "blank", "raw", "single", "helper/sub"} {
		to["example.com/svc/"+p] = gen + "/" + p
	}
	got, err := rewriteImports("p.go", []byte(src), to)
	require.NoError(t, err)
	want := "// Package p has imports of every form.\n" +
		"package p\n" +
		"\n" +
		"/*\n" +
		"#include \"p.h\" // \"example.com/svc/helper\" in a comment\n" +
		"*/\n" +
		"import \"C\"\n" +
		"\n" +
		"import (\n" +
		"\t\"fmt\" // a comment\n" +
		"\th \"" + gen + "/helper\"   /* aligned */\n" +
		"\t. \"" + gen + "/dot\"\n" +
		"\t_ \"" + gen + "/blank\"\n" +
		"\t\"" + gen + "/raw\"\n" +
		"\t\"example.com/svc/helperx\"\n" +
		"\t\"example.com/other/svc/helper\"\n" +
		"\t\"" + gen + "/helper/sub\"\n" +
		")\n" +
		"\n" +
		"import \"" + gen + "/single\"; import \"strings\"\n" +
		"\n" +
		"var _ = \"example.com/svc/helper\"\n"
	assert.Equal(t, want, string(got))

	same, err := rewriteImports("p.go", []byte(src), map[string]string{"example.com/none": "x"})
	require.NoError(t, err)
	assert.Equal(t, src, string(same), "nothing to rename: the file as it was")

	_, err = rewriteImports("bad.go", []byte("package p\n\nimport (\n"), to)
	assert.ErrorContains(t, err, "read imports: bad.go:")
}

// FuzzRewriteImports: on any file the parser takes, rewriting every import
// changes the import paths and nothing else: the result parses, its
// imports are the new paths, and the bytes between the literals are the
// original's.
func FuzzRewriteImports(f *testing.F) {
	f.Add("package p\n\nimport (\n\t\"a/b\" // c\n\tx \"c\"\n\t. `d`\n)\n\nimport \"C\"\n")
	f.Add("\ufeffpackage p; import _ \"e\"; func f() {}")
	f.Add("//line x.go:10\npackage p\nimport \"a\"\n/* \"a\" */ import \"b\"\n")
	f.Fuzz(func(t *testing.T, src string) {
		fset := token.NewFileSet()
		before, err := parser.ParseFile(fset, "f.go", src, parser.ImportsOnly|parser.SkipObjectResolution)
		if err != nil {
			return
		}
		to := map[string]string{}
		for _, spec := range before.Imports {
			p, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				return
			}
			if _, ok := to[p]; !ok {
				to[p] = "renamed.example/" + strconv.Itoa(len(to)) + "/x"
			}
		}
		got, err := rewriteImports("f.go", []byte(src), to)
		if err != nil {
			return // a raw string literal that is not as written (a carriage return)
		}
		fset2 := token.NewFileSet()
		after, err := parser.ParseFile(fset2, "f.go", got, parser.ImportsOnly|parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("the rewritten file does not parse: %v\n%s", err, got)
		}
		if len(after.Imports) != len(before.Imports) {
			t.Fatalf("%d imports, want %d", len(after.Imports), len(before.Imports))
		}
		last, lastGot := 0, 0
		for i, spec := range before.Imports {
			p, _ := strconv.Unquote(spec.Path.Value)
			q, _ := strconv.Unquote(after.Imports[i].Path.Value)
			if q != to[p] {
				t.Fatalf("import %d is %q, want %q", i, q, to[p])
			}
			start := fset.File(before.Pos()).Offset(spec.Path.Pos())
			startGot := fset2.File(after.Pos()).Offset(after.Imports[i].Path.Pos())
			if src[last:start] != string(got[lastGot:startGot]) {
				t.Fatalf("the bytes before import %d changed: %q, was %q", i, got[lastGot:startGot], src[last:start])
			}
			last, lastGot = start+len(spec.Path.Value), startGot+len(after.Imports[i].Path.Value)
		}
		if src[last:] != string(got[lastGot:]) {
			t.Fatalf("the bytes after the imports changed: %q, was %q", got[lastGot:], src[last:])
		}
	})
}
