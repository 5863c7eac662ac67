package baidustd_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// header builds a frame header by hand.
func header(magic string, body, meta uint32) []byte {
	h := []byte(magic)
	h = binary.BigEndian.AppendUint32(h, body)
	return binary.BigEndian.AppendUint32(h, meta)
}

func echoRequest(id int64) *baidustd.Meta {
	return &baidustd.Meta{
		Request:       &baidustd.RequestMeta{ServiceName: "example.EchoService", MethodName: "Echo"},
		CorrelationID: id,
	}
}

func TestAppendFrameLayout(t *testing.T) {
	payload, att := []byte{0x0a, 0x02, 'h', 'i'}, []byte("attach")
	m := echoRequest(1)
	got := baidustd.AppendFrame([]byte("prefix"), m, payload, att)
	require.True(t, bytes.HasPrefix(got, []byte("prefix")), "AppendFrame appends")
	frame := got[len("prefix"):]

	meta := baidustd.AppendMeta(nil, m)
	assert.Equal(t, int32(len(att)), m.AttachmentSize, "AppendFrame sets attachment_size")
	want := header("PRPC", uint32(len(meta)+len(payload)+len(att)), uint32(len(meta)))
	want = append(want, meta...)
	want = append(want, payload...)
	want = append(want, att...)
	assert.Equal(t, want, frame)

	// The exact bytes of a small echo request: "PRPC", body 35, meta 31.
	small := baidustd.AppendFrame(nil, echoRequest(1), payload, nil)
	assert.Equal(t, "5052504300000023"+"0000001f"+
		"0a1b0a136578616d706c652e4563686f5365727669636512044563686f2001"+"0a026869",
		hex.EncodeToString(small))
}

func TestDecoderRoundTrip(t *testing.T) {
	var stream []byte
	stream = baidustd.AppendFrame(stream, echoRequest(1), []byte("payload-1"), nil)
	stream = baidustd.AppendFrame(stream, &baidustd.Meta{Response: &baidustd.ResponseMeta{}, CorrelationID: 2}, nil, []byte("att-2"))
	stream = baidustd.AppendFrame(stream, echoRequest(3), []byte("p3"), []byte("a3"))

	d := baidustd.NewDecoder(bytes.NewReader(stream), 0)
	var frames []baidustd.Frame
	for {
		var f baidustd.Frame
		err := d.Decode(&f)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		frames = append(frames, f)
	}
	require.Len(t, frames, 3)
	assert.Equal(t, int64(1), frames[0].Meta.CorrelationID)
	assert.Equal(t, "payload-1", string(frames[0].Payload))
	assert.Empty(t, frames[0].Attachment)
	assert.Equal(t, "example.EchoService", frames[0].Meta.Request.ServiceName)
	assert.Empty(t, frames[1].Payload)
	assert.Equal(t, "att-2", string(frames[1].Attachment))
	assert.NotNil(t, frames[1].Meta.Response)
	assert.Equal(t, "p3", string(frames[2].Payload))
	assert.Equal(t, "a3", string(frames[2].Attachment))
}

func TestDecoderErrors(t *testing.T) {
	good := baidustd.AppendFrame(nil, echoRequest(1), []byte("payload"), []byte("att"))
	tests := []struct {
		name   string
		stream []byte
		max    int
		is     error
		msg    string
	}{
		{"wrong magic", header("HTTP", 0, 0), 0, baidustd.ErrMagic,
			`baidu_std: bad magic: got "HTTP", want "PRPC"`},
		{"garbage", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0, baidustd.ErrMagic,
			`baidu_std: bad magic: got "GET ", want "PRPC"`},
		{"body over the default limit", header("PRPC", 64<<20+1, 0), 0, baidustd.ErrTooLarge,
			"baidu_std: body too large: body size 67108865 exceeds the limit of 67108864 bytes"},
		{"body over a configured limit", good, 10, baidustd.ErrTooLarge,
			"baidu_std: body too large: body size 43 exceeds the limit of 10 bytes"},
		{"largest body size", header("PRPC", 1<<32-1, 0), 0, baidustd.ErrTooLarge,
			"baidu_std: body too large: body size 4294967295 exceeds the limit of 67108864 bytes"},
		{"meta size over body size", header("PRPC", 10, 20), 0, baidustd.ErrMetaSize,
			"baidu_std: meta size exceeds body size: meta size 20 > body size 10"},
		{"truncated header", good[:7], 0, baidustd.ErrTruncated,
			"baidu_std: truncated frame: stream ended after 7 of 12 header bytes"},
		{"truncated body", good[:20], 0, baidustd.ErrTruncated,
			"baidu_std: truncated frame: stream ended after 8 of 43 body bytes"},
		{"header only", good[:12], 0, baidustd.ErrTruncated,
			"baidu_std: truncated frame: stream ended after 0 of 43 body bytes"},
		{"malformed meta", append(header("PRPC", 2, 2), 0x0a, 0x05), 0, baidustd.ErrMeta,
			"baidu_std: malformed meta: bad field 1 at offset 1: unexpected EOF"},
		{"attachment larger than the rest", append(header("PRPC", 4, 2), 0x28, 0x05, 'p', 'p'), 0, baidustd.ErrMeta,
			"baidu_std: malformed meta: attachment_size 5 does not fit the 2 bytes after the meta"},
		{"negative attachment size", append(header("PRPC", 11, 11), 0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), 0,
			baidustd.ErrMeta, "baidu_std: malformed meta: attachment_size -1 does not fit the 0 bytes after the meta"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := baidustd.NewDecoder(bytes.NewReader(tt.stream), tt.max)
			var f baidustd.Frame
			err := d.Decode(&f)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.is)
			var fe *baidustd.FrameError
			assert.True(t, errors.As(err, &fe), "a *FrameError")
			assert.EqualError(t, err, tt.msg)
		})
	}
}

func TestDecoderPassesReadErrorsOn(t *testing.T) {
	cause := errors.New("connection reset by peer")
	d := baidustd.NewDecoder(io.MultiReader(bytes.NewReader(header("PRPC", 10, 0)), &failingReader{cause}), 0)
	var f baidustd.Frame
	err := d.Decode(&f)
	assert.ErrorIs(t, err, cause)
	assert.EqualError(t, err, "baidu_std: read body: connection reset by peer")

	d = baidustd.NewDecoder(&failingReader{cause}, 0)
	err = d.Decode(&f)
	assert.EqualError(t, err, "baidu_std: read header: connection reset by peer")
	assert.Equal(t, io.EOF, baidustd.NewDecoder(bytes.NewReader(nil), 0).Decode(&f), "a clean end is io.EOF")
}

type failingReader struct{ err error }

func (r *failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestParseHeader(t *testing.T) {
	body, meta, err := baidustd.ParseHeader(header("PRPC", 100, 40), 100)
	require.NoError(t, err)
	assert.Equal(t, 100, body)
	assert.Equal(t, 40, meta)
	_, _, err = baidustd.ParseHeader([]byte("PRPC"), 100)
	assert.ErrorIs(t, err, baidustd.ErrTruncated)
	assert.ErrorIs(t, baidustd.DecodeBody([]byte("ab"), 3, &baidustd.Frame{}), baidustd.ErrMetaSize)
}

// TestDecoderLargeBodies reads a body over several chunks, and does not
// allocate what a header claims before the bytes arrive.
func TestDecoderLargeBodies(t *testing.T) {
	att := bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16+5)
	stream := baidustd.AppendFrame(nil, echoRequest(1), []byte("p"), att)
	var f baidustd.Frame
	require.NoError(t, baidustd.NewDecoder(bytes.NewReader(stream), 0).Decode(&f))
	assert.Equal(t, att, f.Attachment)

	claim := append(header("PRPC", 60<<20, 0), "only a few bytes"...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := baidustd.NewDecoder(bytes.NewReader(claim), 0).Decode(&f)
	runtime.ReadMemStats(&after)
	assert.EqualError(t, err, "baidu_std: truncated frame: stream ended after 16 of 62914560 body bytes")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(8<<20), "memory follows the bytes, not the claim")
}
