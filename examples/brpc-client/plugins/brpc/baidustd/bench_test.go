package baidustd_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
)

// echoPayload is the encoded EchoRequest{message: "hello world"}.
var echoPayload = []byte("\x0a\x0bhello world")

func BenchmarkAppendFrame(b *testing.B) {
	buf := make([]byte, 0, 256)
	m := echoRequest(0)
	b.ReportAllocs()
	for i := range b.N {
		m.CorrelationID = int64(i)
		buf = baidustd.AppendFrame(buf[:0], m, echoPayload, nil)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkUnmarshalMeta(b *testing.B) {
	meta := baidustd.AppendMeta(nil, &baidustd.Meta{Response: &baidustd.ResponseMeta{}, CorrelationID: 123456})
	var m baidustd.Meta
	b.ReportAllocs()
	b.SetBytes(int64(len(meta)))
	for range b.N {
		if err := baidustd.UnmarshalMeta(meta, &m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode decodes a stream of echo responses, as a client's reader
// does.
func BenchmarkDecode(b *testing.B) {
	var stream []byte
	for i := range 1000 {
		stream = baidustd.AppendFrame(stream, &baidustd.Meta{Response: &baidustd.ResponseMeta{}, CorrelationID: int64(i)}, echoPayload, nil)
	}
	r := bytes.NewReader(stream)
	d := baidustd.NewDecoder(r, 0)
	var f baidustd.Frame
	b.ReportAllocs()
	b.SetBytes(int64(len(stream) / 1000))
	for range b.N {
		err := d.Decode(&f)
		if err == io.EOF {
			r.Reset(stream)
			err = d.Decode(&f)
		}
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := baidustd.DecodeResponse(&f, baidustd.DefaultMaxBodySize, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompress(b *testing.B) {
	payload := bytes.Repeat([]byte("hello world "), 100)
	for _, ct := range []baidustd.CompressType{baidustd.CompressGzip, baidustd.CompressZlib} {
		b.Run(ct.String(), func(b *testing.B) {
			var buf []byte
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for range b.N {
				var err error
				if buf, err = baidustd.AppendCompressed(buf[:0], ct, payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
