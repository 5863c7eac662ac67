package baidustd_test

import (
	"bytes"
	"compress/zlib"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
)

func compressed(t *testing.T, ct baidustd.CompressType, b []byte) []byte {
	t.Helper()
	out, err := baidustd.AppendCompressed(nil, ct, b)
	require.NoError(t, err)
	return out
}

func TestDecodeResponse(t *testing.T) {
	payload := bytes.Repeat([]byte("echo "), 100)
	ok := func(m baidustd.Meta, p []byte) *baidustd.Frame { return &baidustd.Frame{Meta: m, Payload: p} }
	tests := []struct {
		name  string
		frame *baidustd.Frame
		max   int
		want  []byte
		is    error
		msg   string
	}{
		{name: "plain", frame: ok(baidustd.Meta{Response: &baidustd.ResponseMeta{}}, payload), want: payload},
		{name: "no response meta is a success", frame: ok(baidustd.Meta{}, payload), want: payload},
		{name: "gzip", frame: ok(baidustd.Meta{CompressType: baidustd.CompressGzip}, compressed(t, baidustd.CompressGzip, payload)), want: payload},
		{name: "zlib", frame: ok(baidustd.Meta{CompressType: baidustd.CompressZlib}, compressed(t, baidustd.CompressZlib, payload)), want: payload},
		{name: "checksum", frame: ok(baidustd.Meta{ChecksumType: 1, ChecksumValue: baidustd.Checksum(payload)}, payload), want: payload},
		{
			name:  "error code",
			frame: ok(baidustd.Meta{Response: &baidustd.ResponseMeta{ErrorCode: 1002, ErrorText: "[127.0.0.1:8000][E1002]Fail to find method=Nope"}}, nil),
			msg:   "ENOMETHOD (1002): [127.0.0.1:8000][E1002]Fail to find method=Nope",
		},
		{
			name:  "unnamed error code",
			frame: ok(baidustd.Meta{Response: &baidustd.ResponseMeta{ErrorCode: 4242, ErrorText: "custom"}}, nil),
			msg:   "E4242 (4242): custom",
		},
		{
			name:  "a request",
			frame: ok(*echoRequest(1), nil),
			is:    baidustd.ErrNotResponse,
			msg:   "baidu_std: not a response: frame carries a request meta (example.EchoService.Echo)",
		},
		{
			name:  "corrupt gzip",
			frame: ok(baidustd.Meta{CompressType: baidustd.CompressGzip}, []byte("not gzip")),
			is:    baidustd.ErrPayload,
			msg:   "baidu_std: malformed payload: gzip: unexpected EOF",
		},
		{
			name:  "truncated zlib",
			frame: ok(baidustd.Meta{CompressType: baidustd.CompressZlib}, compressed(t, baidustd.CompressZlib, payload)[:10]),
			is:    baidustd.ErrPayload,
			msg:   "baidu_std: malformed payload: zlib: unexpected EOF",
		},
		{
			name:  "snappy",
			frame: ok(baidustd.Meta{CompressType: baidustd.CompressSnappy}, payload),
			is:    baidustd.ErrPayload,
			msg:   "baidu_std: malformed payload: compress type snappy is not supported",
		},
		{
			name:  "expands past the limit",
			frame: ok(baidustd.Meta{CompressType: baidustd.CompressGzip}, compressed(t, baidustd.CompressGzip, make([]byte, 1<<20))),
			max:   1000,
			is:    baidustd.ErrTooLarge,
			msg:   "baidu_std: body too large: gzip payload expands beyond the limit of 1000 bytes",
		},
		{
			name:  "bad checksum",
			frame: ok(baidustd.Meta{ChecksumType: 1, ChecksumValue: []byte{1, 2, 3, 4}}, payload),
			is:    baidustd.ErrChecksum,
		},
		{
			name:  "unknown checksum type",
			frame: ok(baidustd.Meta{ChecksumType: 9}, payload),
			is:    baidustd.ErrPayload,
			msg:   "baidu_std: malformed payload: checksum type 9 is not supported",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			max := tt.max
			if max == 0 {
				max = baidustd.DefaultMaxBodySize
			}
			got, _, err := baidustd.DecodeResponse(tt.frame, max, nil)
			if tt.want != nil {
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
				return
			}
			require.Error(t, err)
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			} else {
				var e *baidustd.Error
				require.True(t, errors.As(err, &e), "a server's error is an *Error")
				assert.Equal(t, baidustd.Code(tt.frame.Meta.Response.ErrorCode), e.Code)
			}
			if tt.msg != "" {
				assert.EqualError(t, err, tt.msg)
			}
		})
	}
}

// TestChecksumKnownValue checks the mask over CRC32C("123456789"), whose
// CRC32C is 0xe3069283 (the standard check value).
func TestChecksumKnownValue(t *testing.T) {
	c := uint32(0xe3069283)
	m := (c>>15 | c<<17) + 0xa282ead8
	assert.Equal(t, []byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}, baidustd.Checksum([]byte("123456789")))
}

func TestCompressRoundTrip(t *testing.T) {
	payload := []byte("hello, hello, hello, hello")
	for _, ct := range []baidustd.CompressType{baidustd.CompressNone, baidustd.CompressGzip, baidustd.CompressZlib} {
		t.Run(ct.String(), func(t *testing.T) {
			c := compressed(t, ct, payload)
			got, err := baidustd.Decompress(ct, c, len(payload))
			require.NoError(t, err)
			assert.Equal(t, payload, got)
		})
	}
	_, err := baidustd.AppendCompressed(nil, baidustd.CompressSnappy, payload)
	assert.EqualError(t, err, "compress type snappy is not supported (use none, gzip or zlib)")
	assert.Equal(t, "compress(7)", baidustd.CompressType(7).String())
	assert.Equal(t, "ECLOSE", baidustd.ECLOSE.String())
}

// TestFrameErrorsWrapTheirCause checks that a frame error keeps the error
// that revealed it, next to its sentinel.
func TestFrameErrorsWrapTheirCause(t *testing.T) {
	_, err := baidustd.Decompress(baidustd.CompressGzip, []byte("not gzip"), 1<<10)
	assert.ErrorIs(t, err, baidustd.ErrPayload)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, err = baidustd.Decompress(baidustd.CompressZlib, []byte("not zlib at all"), 1<<10)
	assert.ErrorIs(t, err, baidustd.ErrPayload)
	assert.ErrorIs(t, err, zlib.ErrHeader)

	err = baidustd.DecodeBody([]byte{0x0a, 0x05}, 2, &baidustd.Frame{})
	assert.ErrorIs(t, err, baidustd.ErrMeta)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.EqualError(t, err, "baidu_std: malformed meta: bad field 1 at offset 1: unexpected EOF")
}

// TestBRPCResponseShape decodes responses laid out as bRPC 1.17's
// SendRpcResponse writes them: proto2 sets compress_type, content_type,
// checksum_type and checksum_value even when they are zero or empty, so
// they are on the wire, in field-number order.
func TestBRPCResponseShape(t *testing.T) {
	meta := "120208001800" + "2005" + "2803" + "5000" + "5800" + "6200"
	body := meta + "0a026869" + "617474" // payload {message: "hi"}, attachment "att"
	frame := fmt.Sprintf("50525043%08x%08x", len(body)/2, len(meta)/2) + body
	b, err := hex.DecodeString(frame)
	require.NoError(t, err)
	var f baidustd.Frame
	require.NoError(t, baidustd.NewDecoder(bytes.NewReader(b), 0).Decode(&f))
	assert.Equal(t, int64(5), f.Meta.CorrelationID)
	assert.Equal(t, "att", string(f.Attachment))
	payload, _, err := baidustd.DecodeResponse(&f, baidustd.DefaultMaxBodySize, nil)
	require.NoError(t, err)
	assert.Equal(t, "\x0a\x02hi", string(payload))

	text := "[127.0.0.1:8000][E1002]Fail to find method=Nope"
	resp := fmt.Sprintf("08ea0712%02x%x", len(text), text)
	meta = fmt.Sprintf("12%02x%s", len(resp)/2, resp) + "1800" + "2006" + "5000" + "5800" + "6200"
	b, err = hex.DecodeString(fmt.Sprintf("50525043%08x%08x", len(meta)/2, len(meta)/2) + meta)
	require.NoError(t, err)
	require.NoError(t, baidustd.NewDecoder(bytes.NewReader(b), 0).Decode(&f))
	_, _, err = baidustd.DecodeResponse(&f, baidustd.DefaultMaxBodySize, nil)
	var e *baidustd.Error
	require.True(t, errors.As(err, &e), "got %v", err)
	assert.Equal(t, baidustd.ENOMETHOD, e.Code)
	assert.Equal(t, text, e.Text)
	assert.Equal(t, int64(6), f.Meta.CorrelationID)
}
