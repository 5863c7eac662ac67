package baidustd_test

import (
	"bytes"
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
			if payload, _, err := baidustd.DecodeResponse(&fr, fuzzMax, nil); err == nil && len(payload) > fuzzMax {
				t.Fatalf("payload of %d bytes passed the %d-byte limit", len(payload), fuzzMax)
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
