package loader

import (
	"debug/buildinfo"
	"debug/elf"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParseInlineBuildInfo checks the fast reader of build information
// against debug/buildinfo, on this test binary.
func TestParseInlineBuildInfo(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	want, err := buildinfo.ReadFile(exe)
	require.NoError(t, err)
	ef, err := elf.Open(exe)
	require.NoError(t, err)
	defer ef.Close()
	sec := ef.Section(".go.buildinfo")
	require.NotNil(t, sec)
	data, err := sec.Data()
	require.NoError(t, err)

	got := parseInlineBuildInfo(data)
	require.NotNil(t, got)
	assert.Equal(t, want, got)

	// Damaged contents are refused (the general path then explains), never
	// a panic.
	for n := range len(data) {
		if bi := parseInlineBuildInfo(data[:n]); bi != nil {
			assert.Equal(t, want.GoVersion, bi.GoVersion)
		}
	}
	flipped := append([]byte(nil), data...)
	flipped[32] = 0xff // the version's length
	assert.Nil(t, parseInlineBuildInfo(flipped))
}
