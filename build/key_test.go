package build

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHashPackageVendored: a module version stands for its files only in
// the module cache; a vendored copy is hashed by content, so editing it
// changes the key.
func TestHashPackageVendored(t *testing.T) {
	root := t.TempDir()
	modCache := filepath.Join(root, "modcache")
	for _, tc := range []struct {
		dir         string
		editChanges bool
	}{
		{filepath.Join(modCache, "example.com", "lib@v1.0.0"), false},
		{filepath.Join(root, "svc", "vendor", "example.com", "lib"), true},
		{filepath.Join(root, "modcache-lookalike", "example.com", "lib@v1.0.0"), true},
	} {
		require.NoError(t, os.MkdirAll(tc.dir, 0o755))
		file := filepath.Join(tc.dir, "lib.go")
		require.NoError(t, os.WriteFile(file, []byte("package lib\n"), 0o644))
		p := &listedPackage{ImportPath: "example.com/lib", Dir: tc.dir, GoFiles: []string{"lib.go"}}
		p.Module = &packageModule{Path: "example.com/lib", Version: "v1.0.0"}
		key := func() []byte {
			h := sha256.New()
			require.NoError(t, hashPackage(h, p, modCache))
			return h.Sum(nil)
		}
		before := key()
		require.NoError(t, os.WriteFile(file, []byte("package lib\n\nvar Edited = true\n"), 0o644))
		assert.Equal(t, tc.editChanges, string(before) != string(key()), tc.dir)
	}
}
