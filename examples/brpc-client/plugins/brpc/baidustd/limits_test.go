package baidustd_test

import (
	"bytes"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
)

// extremes are the limit values every size limit must survive: 0 and the
// negatives mean the default, math.MaxInt means no limit.
var extremes = []int{0, -1, math.MinInt, math.MaxInt}

// TestLimitsAtExtremes runs each limit of the package at 0, negative and
// math.MaxInt values.
func TestLimitsAtExtremes(t *testing.T) {
	hello := compressed(t, baidustd.CompressGzip, []byte("hello"))
	overDefault := header("PRPC", baidustd.DefaultMaxBodySize+1, 0)
	for _, v := range extremes {
		unlimited := v == math.MaxInt
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			_, _, err := baidustd.ParseHeader(header("PRPC", math.MaxUint32, 0), v)
			assertLimit(t, unlimited, err, "ParseHeader of a 4 GiB body")
			_, _, err = baidustd.ParseHeader(overDefault, v)
			assertLimit(t, unlimited, err, "ParseHeader of a body over 64 MiB")

			out, err := baidustd.Decompress(baidustd.CompressGzip, hello, v)
			require.NoError(t, err)
			assert.Equal(t, "hello", string(out), "Decompress")

			f := baidustd.Frame{Meta: baidustd.Meta{CompressType: baidustd.CompressGzip}, Payload: hello}
			out, _, err = baidustd.DecodeResponse(&f, v, nil)
			require.NoError(t, err)
			assert.Equal(t, "hello", string(out), "DecodeResponse")

			stream := baidustd.AppendFrame(nil, echoRequest(1), []byte("p"), nil)
			require.NoError(t, baidustd.NewDecoder(bytes.NewReader(stream), v).Decode(&f), "Decoder")
			err = baidustd.NewDecoder(bytes.NewReader(overDefault), v).Decode(&f)
			if unlimited {
				assert.ErrorIs(t, err, baidustd.ErrTruncated, "Decoder")
			} else {
				assert.ErrorIs(t, err, baidustd.ErrTooLarge, "Decoder")
			}

			var out2 syncBuffer
			w := baidustd.NewWriter(&out2, v, nil)
			require.NoError(t, w.Write(stream), "Writer")
			require.NoError(t, w.WriteReserved(stream), "Writer.WriteReserved")
			require.NoError(t, w.Close())
			assert.Equal(t, append(stream, stream...), out2.b.Bytes())
		})
	}
}

func assertLimit(t *testing.T, unlimited bool, err error, what string) {
	t.Helper()
	if unlimited {
		assert.NoError(t, err, what)
	} else {
		assert.ErrorIs(t, err, baidustd.ErrTooLarge, what)
	}
}

// TestDecompressLimit checks that the default limit holds when 0 or a
// negative value asks for it, and that a limit applies exactly.
func TestDecompressLimit(t *testing.T) {
	big := compressed(t, baidustd.CompressGzip, make([]byte, baidustd.DefaultMaxBodySize+1))
	for _, v := range []int{0, -1} {
		_, err := baidustd.Decompress(baidustd.CompressGzip, big, v)
		assert.ErrorIs(t, err, baidustd.ErrTooLarge, "limit %d", v)
	}
	ten := compressed(t, baidustd.CompressZlib, make([]byte, 10))
	_, err := baidustd.Decompress(baidustd.CompressZlib, ten, 10)
	assert.NoError(t, err, "exactly the limit")
	_, err = baidustd.Decompress(baidustd.CompressZlib, ten, 9)
	assert.ErrorIs(t, err, baidustd.ErrTooLarge, "one over")
}

// TestPeerTextIsSanitised checks that an error text from a peer reaches
// the error truncated and without control characters.
func TestPeerTextIsSanitised(t *testing.T) {
	text := "[127.0.0.1:8000][E2001]" + strings.Repeat("\x1b[31mred\x1b[0m\r\n\x00\x07", 40000) + "\xff\xfe"
	f := baidustd.Frame{Meta: baidustd.Meta{Response: &baidustd.ResponseMeta{ErrorCode: 2001, ErrorText: text}}}
	_, _, err := baidustd.DecodeResponse(&f, 0, nil)
	require.Error(t, err)
	msg := err.Error()
	assert.LessOrEqual(t, len(msg), 1200, "the text is truncated")
	assert.True(t, strings.HasPrefix(msg, "EINTERNAL (2001): [127.0.0.1:8000][E2001][31mred[0m"), "%.80q", msg)
	assert.Contains(t, msg, "bytes in all)")
	for _, r := range msg {
		require.False(t, unicode.IsControl(r), "control character %q in %.80q", r, msg)
	}

	f.Meta = *echoRequest(1)
	f.Meta.Request.ServiceName = "evil\x1b]0;title\x07"
	_, _, err = baidustd.DecodeResponse(&f, 0, nil)
	assert.EqualError(t, err, "baidu_std: not a response: frame carries a request meta (evil]0;title.Echo)")
}

// TestErrorTextsSayWhatFailed checks that no error text repeats a prefix
// and that a checksum failure says so.
func TestErrorTextsSayWhatFailed(t *testing.T) {
	_, err := baidustd.Decompress(baidustd.CompressGzip, []byte("definitely not a gzip stream"), 0)
	assert.EqualError(t, err, "baidu_std: malformed payload: gzip: invalid header")
	_, err = baidustd.Decompress(baidustd.CompressZlib, []byte("definitely not a zlib stream"), 0)
	assert.EqualError(t, err, "baidu_std: malformed payload: zlib: invalid header")

	f := baidustd.Frame{Meta: baidustd.Meta{ChecksumType: 1, ChecksumValue: []byte{1, 2, 3, 4}}, Payload: []byte("payload")}
	_, _, err = baidustd.DecodeResponse(&f, 0, nil)
	assert.ErrorIs(t, err, baidustd.ErrChecksum)
	assert.Regexp(t, `^baidu_std: checksum mismatch: CRC32C 01020304 of 7 bytes, want [0-9a-f]{8}$`, err.Error())
}

// TestDecoderCommitsMemoryAsBytesArrive decodes a header claiming a 60 MiB
// body followed by 16 bytes: what it allocates follows the bytes.
func TestDecoderCommitsMemoryAsBytesArrive(t *testing.T) {
	claim := append(header("PRPC", 60<<20, 0), "only a few bytes"...)
	var before, after runtime.MemStats
	var f baidustd.Frame
	runtime.ReadMemStats(&before)
	err := baidustd.NewDecoder(bytes.NewReader(claim), 0).Decode(&f)
	runtime.ReadMemStats(&after)
	assert.ErrorIs(t, err, baidustd.ErrTruncated)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<10))
}
