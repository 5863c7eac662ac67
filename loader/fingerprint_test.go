package loader_test

import (
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/loader"
)

// TestPreflightComparesWhatTheRuntimeCompares: plugin.Open compares the
// link-time table of a plugin's package fingerprints
// (go:link.pkglinkhash.N), not the fingerprints it exports
// (go:link.pkghashbytes.*). A file where the two disagree is refused by
// preflight, naming the package, instead of passing every check and
// failing inside plugin.Open.
func TestPreflightComparesWhatTheRuntimeCompares(t *testing.T) {
	src := fixturePath(t, "echo")
	for _, prefix := range []string{"go:link.pkglinkhash.", "go:link.pkghashbytes."} {
		t.Run(strings.Trim(prefix, "."), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "client_echo.so")
			copyFile(t, src, path)
			off := symbolOffset(t, path, prefix)
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			data[off] ^= 0xff
			require.NoError(t, os.WriteFile(path, data, 0o644))
			err = loader.Preflight(path, nil)
			require.ErrorIs(t, err, loader.ErrNotPlugin)
			assert.ErrorContains(t, err, "is not the one plugin.Open compares")
		})
	}
}

// symbolOffset returns the file offset of the data of the first symbol
// whose name starts with prefix (from the symbol table, or the dynamic
// one).
func symbolOffset(t *testing.T, path, prefix string) int64 {
	t.Helper()
	f, err := elf.Open(path)
	require.NoError(t, err)
	defer f.Close()
	syms, err := f.Symbols()
	require.NoError(t, err)
	dyn, err := f.DynamicSymbols()
	require.NoError(t, err)
	for _, s := range append(syms, dyn...) {
		if strings.HasPrefix(s.Name, prefix) && s.Size > 0 && int(s.Section) < len(f.Sections) {
			sec := f.Sections[s.Section]
			return int64(sec.Offset + s.Value - sec.Addr)
		}
	}
	t.Fatalf("no symbol %s...", prefix)
	return 0
}
