package emit

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/plugink/plugink/runtime"
)

// TestHostAliases: every imported package gets its own alias, never one of
// the names the generated files use or the host package declares.
func TestHostAliases(t *testing.T) {
	h := Host{
		Package: "main",
		Kinds:   []Kind{{Name: "client", Pkg: "example.com/svc/client", PkgName: "client", Var: "Kind"}},
		Plugins: []Plugin{
			{Config: runtime.Config{Name: "a", Type: "client", Path: "example.com/a/client"}, PkgName: "client"},
			{Config: runtime.Config{Name: "b", Type: "client", Path: "example.com/b/errors"}, PkgName: "errors"},
			{Config: runtime.Config{Name: "c", Type: "client", Path: "example.com/c/go-loud"}, PkgName: "loud"},
			{Config: runtime.Config{Name: "d", Type: "client", Path: "example.com/d/v2"}, PkgName: "runtime"},
		},
		Declared: []string{"loud", "client"},
	}
	assert.Equal(t, map[string]string{
		"example.com/a/client":   "client2",
		"example.com/b/errors":   "errors",
		"example.com/c/go-loud":  "loud2",
		"example.com/d/v2":       "runtime", // plugink's runtime is imported as plugink
		"example.com/svc/client": "client3",
	}, h.aliases())
}
