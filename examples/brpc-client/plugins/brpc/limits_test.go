package brpc_test

import (
	"context"
	"fmt"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc"
	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
)

// serveGzipEcho answers every request on nc, in order, as the echo
// service, with the response payload gzipped.
func serveGzipEcho(t *testing.T, nc net.Conn, d *baidustd.Decoder) {
	for {
		var f baidustd.Frame
		if d.Decode(&f) != nil {
			return
		}
		var rsp baidustd.Frame
		plain := reply(t, &f)
		if err := baidustd.NewDecoder(strings.NewReader(string(plain)), 0).Decode(&rsp); err != nil {
			t.Error(err)
			return
		}
		z, _ := baidustd.AppendCompressed(nil, baidustd.CompressGzip, rsp.Payload)
		rsp.Meta.CompressType = baidustd.CompressGzip
		if _, err := nc.Write(baidustd.AppendFrame(nil, &rsp.Meta, z, rsp.Attachment)); err != nil {
			return
		}
	}
}

// TestLimitsAtExtremes sets each of the client's limits to 0, negative
// values and math.MaxInt: small and large calls, with gzipped requests and
// responses, still work (F8: MaxBodySize(math.MaxInt) once decoded a
// gzipped response as empty).
func TestLimitsAtExtremes(t *testing.T) {
	s := startScripted(t, func(_ int, nc net.Conn, d *baidustd.Decoder) { serveGzipEcho(t, nc, d) })
	for _, v := range []int{0, -1, math.MinInt, math.MaxInt} {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			noLeaks(t)
			c := newClient(s.Addr().String(), brpc.Compress(baidustd.CompressGzip),
				brpc.MaxBodySize(v), brpc.MaxQueued(v), brpc.DecompressBudget(v), brpc.MaxRetry(v),
				brpc.FrameTimeout(time.Duration(v)))
			t.Cleanup(func() { c.Close() })
			for _, msg := range []string{"small", strings.Repeat("large ", 200<<10)} {
				got, err := echoCall(context.Background(), c, msg, brpc.Attachment([]byte("att")))
				require.NoError(t, err)
				assert.Equal(t, msg, got)
			}
		})
	}
	assert.Less(t, s.Accepted(), 5, "no retries")

	noLimit := newClient(s.Addr().String())
	t.Cleanup(func() { noLimit.Close() })
	mustEcho(t, noLimit, "defaults")
}
