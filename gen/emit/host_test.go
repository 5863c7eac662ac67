package emit

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestHostAliases: every imported package gets its own alias, never one of
// the names the generated files use or the host package declares.
func TestHostAliases(t *testing.T) {
	h := Host{
		Package: "main",
		Kinds:   []Kind{{Name: "client", Pkg: "example.com/svc/client", PkgName: "client", Var: "Kind"}},
		Plugins: []Plugin{
			{Name: "a", Type: "client", Path: "example.com/a/client", PkgName: "client"},
			{Name: "b", Type: "client", Path: "example.com/b/errors", PkgName: "errors"},
			{Name: "c", Type: "client", Path: "example.com/c/go-loud", PkgName: "loud"},
			{Name: "d", Type: "client", Path: "example.com/d/v2", PkgName: "runtime"},
		},
		Declared: []string{"loud", "client"},
	}
	assert.Equal(t, map[string]string{
		"example.com/a/client":   "client2",
		"example.com/b/errors":   "errors2",
		"example.com/c/go-loud":  "loud2",
		"example.com/d/v2":       "d", // runtime is reserved: the alias comes from the path
		"example.com/svc/client": "client3",
	}, h.aliases())
}
