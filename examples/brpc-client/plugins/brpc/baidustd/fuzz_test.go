package baidustd_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
)

// fuzzMax is the body limit under fuzzing, small enough that the fuzzer
// reaches it.
const fuzzMax = 1 << 16

// FuzzDecodeResponse feeds arbitrary bytes to the decoder and the response
// checks a client runs on what a server sends. Whatever the input, they
// must not panic, must stop at the first bad frame, and what they accept
// must re-encode to a frame that decodes to the same thing. The seed corpus
// is in testdata/fuzz/FuzzDecodeResponse.
func FuzzDecodeResponse(f *testing.F) {
	f.Add(baidustd.AppendFrame(nil, &baidustd.Meta{Response: &baidustd.ResponseMeta{}, CorrelationID: 1}, []byte{0x0a, 0x02, 'h', 'i'}, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := baidustd.NewDecoder(bytes.NewReader(data), fuzzMax)
		for {
			var fr baidustd.Frame
			if err := d.Decode(&fr); err != nil {
				return
			}
			if len(fr.Payload)+len(fr.Attachment) > fuzzMax {
				t.Fatalf("frame of %d bytes passed the %d-byte limit", len(fr.Payload)+len(fr.Attachment), fuzzMax)
			}
			if int(fr.Meta.AttachmentSize) != len(fr.Attachment) {
				t.Fatalf("attachment_size %d, attachment of %d bytes", fr.Meta.AttachmentSize, len(fr.Attachment))
			}
			if payload, lease, err := baidustd.DecodeResponse(&fr, fuzzMax, nil); err == nil {
				if len(payload) > fuzzMax {
					t.Fatalf("payload of %d bytes passed the %d-byte limit", len(payload), fuzzMax)
				}
				lease.Release()
			}
			checkReencode(t, &fr)
		}
	})
}

// checkReencode encodes fr again and checks that it decodes to the same
// meta, payload and attachment.
func checkReencode(t *testing.T, fr *baidustd.Frame) {
	meta := fr.Meta
	buf := baidustd.AppendFrame(nil, &meta, fr.Payload, fr.Attachment)
	var again baidustd.Frame
	if err := baidustd.NewDecoder(bytes.NewReader(buf), len(buf)).Decode(&again); err != nil {
		t.Fatalf("re-encoded frame does not decode: %v", err)
	}
	if !bytes.Equal(again.Payload, fr.Payload) || !bytes.Equal(again.Attachment, fr.Attachment) {
		t.Fatalf("payload or attachment changed on re-encoding")
	}
	a, b := baidustd.AppendMeta(nil, &again.Meta), baidustd.AppendMeta(nil, &fr.Meta)
	if !bytes.Equal(a, b) {
		t.Fatalf("meta changed on re-encoding:\n%x\n%x", b, a)
	}
}

// FuzzParseHeader checks a header against any limit: what it accepts fits
// the limit, and the meta fits the body. Seeds: testdata/fuzz/FuzzParseHeader.
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte("PRPC\x00\x00\x00\x10\x00\x00\x00\x08"), 0)
	f.Fuzz(func(t *testing.T, h []byte, max int) {
		body, meta, err := baidustd.ParseHeader(h, max)
		if err != nil {
			return
		}
		if body > baidustd.BodyLimit(max) || meta > body || meta < 0 {
			t.Fatalf("accepted body %d, meta %d with the limit %d", body, meta, max)
		}
	})
}

// FuzzUnmarshalMeta decodes any bytes as an RpcMeta: what it accepts
// encodes to bytes that decode to the same meta. Seeds:
// testdata/fuzz/FuzzUnmarshalMeta.
func FuzzUnmarshalMeta(f *testing.F) {
	f.Add(baidustd.AppendMeta(nil, &baidustd.Meta{Response: &baidustd.ResponseMeta{ErrorCode: 1002, ErrorText: "x"}, CorrelationID: 9}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m, again baidustd.Meta
		if baidustd.UnmarshalMeta(b, &m) != nil {
			return
		}
		enc := baidustd.AppendMeta(nil, &m)
		if err := baidustd.UnmarshalMeta(enc, &again); err != nil {
			t.Fatalf("re-encoded meta does not decode: %v", err)
		}
		if !bytes.Equal(baidustd.AppendMeta(nil, &again), enc) {
			t.Fatalf("meta changed on re-encoding")
		}
	})
}

// FuzzDecodeBody splits any body at any meta size: what it accepts is
// the body after the meta, cut into payload and attachment as
// attachment_size says. Seeds: testdata/fuzz/FuzzDecodeBody.
func FuzzDecodeBody(f *testing.F) {
	meta := baidustd.AppendMeta(nil, &baidustd.Meta{CorrelationID: 1, AttachmentSize: 3})
	f.Add(append(meta, "payloadatt"...), len(meta))
	f.Fuzz(func(t *testing.T, body []byte, metaSize int) {
		var fr baidustd.Frame
		if baidustd.DecodeBody(body, metaSize, &fr) != nil {
			return
		}
		rest := body[metaSize:]
		if len(fr.Payload)+len(fr.Attachment) != len(rest) || int(fr.Meta.AttachmentSize) != len(fr.Attachment) {
			t.Fatalf("payload %d + attachment %d bytes of %d (attachment_size %d)", len(fr.Payload), len(fr.Attachment), len(rest), fr.Meta.AttachmentSize)
		}
	})
}

// FuzzDecompress decompresses any bytes as any compress type, under a
// small budget: the result stays within the limit, a refusal leaves the
// budget as it was, and releasing the lease empties it. Seeds:
// testdata/fuzz/FuzzDecompress.
func FuzzDecompress(f *testing.F) {
	for _, ct := range []baidustd.CompressType{baidustd.CompressGzip, baidustd.CompressZlib} {
		z, _ := baidustd.AppendCompressed(nil, ct, bytes.Repeat([]byte("fuzz"), 100))
		f.Add(z, uint8(ct), uint16(1000))
	}
	f.Fuzz(func(t *testing.T, data []byte, ct uint8, max uint16) {
		budget := baidustd.NewBudget(1<<20, nil)
		out, lease, err := budget.Decompress(baidustd.CompressType(ct), data, int(max))
		if used := budget.InUse(); err != nil && used != 0 {
			t.Fatalf("refused (%v) with %d bytes still taken", err, used)
		}
		if err == nil && len(out) > baidustd.BodyLimit(int(max)) {
			t.Fatalf("%d bytes out, limit %d", len(out), max)
		}
		if err != nil && !errors.Is(err, baidustd.ErrPayload) && !errors.Is(err, baidustd.ErrTooLarge) && !errors.Is(err, baidustd.ErrOvercrowded) {
			t.Fatalf("error of no known kind: %v", err)
		}
		lease.Release()
		if budget.InUse() != 0 {
			t.Fatalf("%d bytes taken after release", budget.InUse())
		}
	})
}
