package baidustd_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
)

// TestBudgetBoundsWhatResultsHold decompresses payloads and holds the
// results: the budget refuses the one that does not fit, nothing is lost
// when leases are released, and a parent bounds its children together.
func TestBudgetBoundsWhatResultsHold(t *testing.T) {
	const kib = 1 << 10
	z := compressed(t, baidustd.CompressGzip, make([]byte, 600*kib))
	server := baidustd.NewBudget(1500*kib, nil)
	conn1, conn2 := baidustd.NewBudget(1024*kib, server), baidustd.NewBudget(1024*kib, server)

	out, lease1, err := conn1.Decompress(baidustd.CompressGzip, z, 0)
	require.NoError(t, err)
	assert.Len(t, out, 600*kib)
	assert.LessOrEqual(t, conn1.InUse(), 1024*kib)
	_, _, err = conn1.Decompress(baidustd.CompressGzip, z, 0)
	assert.ErrorIs(t, err, baidustd.ErrOvercrowded, "the connection's budget is spent")
	assert.Regexp(t, `^gzip payload: baidu_std: overcrowded: decompressing needs more than the \d+ bytes left of a 1048576-byte budget$`, err.Error())

	_, lease2, err := conn2.Decompress(baidustd.CompressGzip, z, 0)
	if err == nil {
		_, _, err = conn2.Decompress(baidustd.CompressGzip, z, 0)
		lease2.Release()
	}
	assert.ErrorIs(t, err, baidustd.ErrOvercrowded, "the server's budget is spent")
	assert.Contains(t, err.Error(), "of a 1536000-byte budget")

	lease1.Release()
	assert.Zero(t, conn1.InUse())
	assert.Zero(t, conn2.InUse())
	assert.Zero(t, server.InUse(), "a refused take gives back what it took on the way")
	_, lease1, err = conn1.Decompress(baidustd.CompressGzip, z, 0)
	require.NoError(t, err, "released bytes can be taken again")
	lease1.Release()

	_, lease, err := conn1.Decompress(baidustd.CompressNone, z, 0)
	require.NoError(t, err)
	assert.Zero(t, conn1.InUse(), "an uncompressed payload takes nothing")
	lease.Release()
	baidustd.Lease{}.Release()
}

// TestBudgetSizesAtExtremes makes budgets of 0, negative and math.MaxInt
// bytes: the first two are DefaultBudget, the last has no bound.
func TestBudgetSizesAtExtremes(t *testing.T) {
	z := compressed(t, baidustd.CompressGzip, make([]byte, 1<<20))
	for _, n := range extremes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			b := baidustd.NewBudget(n, nil)
			out, lease, err := b.Decompress(baidustd.CompressGzip, z, math.MaxInt)
			require.NoError(t, err)
			assert.Len(t, out, 1<<20)
			lease.Release()
			assert.Zero(t, b.InUse())
		})
	}
}
