package records

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPruneCountsRecordsOnly: the directory's other files neither count
// toward the limit nor go when it prunes.
func TestPruneCountsRecordsOnly(t *testing.T) {
	dir := t.TempDir()
	for i := range 10 {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "other"+string(rune('a'+i))), nil, 0o600))
	}
	name := strings.Repeat("ab", 16) + recordSuffix
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, strings.Repeat("cd", 16)+recordSuffix+pendingSuffix), nil, 0o600))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Equal(t, 2, countRecords(entries))
	prune(dir, entries)
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	others := 0
	for _, e := range left {
		if strings.HasPrefix(e.Name(), "other") {
			others++
		}
	}
	assert.Equal(t, 10, others, "prune removes records only")
	assert.Len(t, left, 11, "the older of the two records went")
}
