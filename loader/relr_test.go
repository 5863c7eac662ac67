package loader_test

import (
	"debug/elf"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/loader"
)

// TestPackedRelocations loads a plugin whose relative relocations are
// packed (DT_RELR), and refuses a copy whose packed table writes outside
// the writable segments.
func TestPackedRelocations(t *testing.T) {
	path := fixturePath(t, "relr")
	ef, err := elf.Open(path)
	require.NoError(t, err)
	relr, order := ef.Section(".relr.dyn"), ef.ByteOrder
	ef.Close()
	require.NotNil(t, relr, "the linker packed no relocations")

	reg, kind := newRegistry(t)
	l := loader.NewPlugin(loader.WithRegistry(reg))
	c, err := l.Load(path)
	require.NoError(t, err)
	require.NoError(t, l.Init(c))
	_, err = kind.Get("relr")
	require.NoError(t, err)

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	// The first entry is an address; make it one no segment maps.
	order.PutUint64(b[relr.Offset:], 8)
	bad := filepath.Join(t.TempDir(), "relr.so")
	require.NoError(t, os.WriteFile(bad, b, 0o644))
	err = loader.Preflight(bad, nil)
	require.ErrorIs(t, err, loader.ErrNotPlugin)
	assert.ErrorContains(t, err, "packed relocation 0 writes at 0x8, outside the writable segments")

	// A bitmap first, with no address before it.
	order.PutUint64(b[relr.Offset:], 3)
	require.NoError(t, os.WriteFile(bad, b, 0o644))
	assert.ErrorContains(t, loader.Preflight(bad, nil), "packed relocation 0 is a bitmap with no address before it")
}
