package baidustd_test

import (
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
)

// The wire bytes below were produced by protoc from testdata/rpc_meta.proto:
//
//	echo '<text>' | protoc --encode=brpc.policy.RpcMeta rpc_meta.proto | xxd -p
//
// with <text> the message shown in each case's comment.
var metaCases = []struct {
	name string
	meta baidustd.Meta
	// wire is what protoc encodes; AppendMeta produces it too unless
	// encoded says otherwise.
	wire, encoded string
}{
	{
		// request { service_name: "example.EchoService" method_name: "Echo" } correlation_id: 1
		name: "echo request",
		meta: baidustd.Meta{
			Request:       &baidustd.RequestMeta{ServiceName: "example.EchoService", MethodName: "Echo"},
			CorrelationID: 1,
		},
		wire: "0a1b0a136578616d706c652e4563686f5365727669636512044563686f2001",
	},
	{
		// request { service_name: "example.EchoService" method_name: "Echo" log_id: 123456789 timeout_ms: 500 }
		// compress_type: 2 correlation_id: 300 attachment_size: 5
		name: "request with log id, timeout, gzip and attachment",
		meta: baidustd.Meta{
			Request:        &baidustd.RequestMeta{ServiceName: "example.EchoService", MethodName: "Echo", LogID: 123456789, TimeoutMs: 500},
			CompressType:   baidustd.CompressGzip,
			CorrelationID:  300,
			AttachmentSize: 5,
		},
		wire: "0a230a136578616d706c652e4563686f5365727669636512044563686f18959aef3a40f403180220ac022805",
	},
	{
		// response { error_code: 0 } correlation_id: 1
		name: "success response",
		meta: baidustd.Meta{Response: &baidustd.ResponseMeta{}, CorrelationID: 1},
		wire: "120208002001",
	},
	{
		// response { error_code: 1002 error_text: "[127.0.0.1:8000][E1002]Fail to find method=Nope" }
		// correlation_id: 9223372036854775807
		name: "error response, largest correlation id",
		meta: baidustd.Meta{
			Response:      &baidustd.ResponseMeta{ErrorCode: 1002, ErrorText: "[127.0.0.1:8000][E1002]Fail to find method=Nope"},
			CorrelationID: 1<<63 - 1,
		},
		wire: "123408ea07122f5b3132372e302e302e313a383030305d5b45313030325d4661696c20746f2066696e64206d6574686f643d4e6f706520ffffffffffffffff7f",
	},
	{
		// response { error_code: -1 } correlation_id: -2 compress_type: 3 attachment_size: 3
		name: "negative values are sign-extended",
		meta: baidustd.Meta{
			Response:       &baidustd.ResponseMeta{ErrorCode: -1},
			CompressType:   baidustd.CompressZlib,
			CorrelationID:  -2,
			AttachmentSize: 3,
		},
		wire: "120b08ffffffffffffffffff01180320feffffffffffffffff012803",
	},
	{
		// request { service_name: "s" method_name: "m" trace_id: 1 span_id: 2 parent_span_id: 3 request_id: "r-1" }
		// correlation_id: 7 authentication_data: "tok" user_fields { key: "b" value: "2" }
		// user_fields { key: "a" value: "1" } content_type: 0 checksum_type: 1 checksum_value: "\x01\x02\x03\x04"
		name: "every field",
		meta: baidustd.Meta{
			Request: &baidustd.RequestMeta{
				ServiceName: "s", MethodName: "m", TraceID: 1, SpanID: 2, ParentSpanID: 3, RequestID: "r-1",
			},
			CorrelationID:      7,
			AuthenticationData: []byte("tok"),
			UserFields:         map[string]string{"a": "1", "b": "2"},
			ChecksumType:       baidustd.ChecksumCRC32C,
			ChecksumValue:      []byte{1, 2, 3, 4},
		},
		wire: "0a110a017312016d2001280230033a03722d3120073a03746f6b4a060a01621201324a060a016112013150005801620401020304",
		// AppendMeta sorts user_fields and leaves out content_type 0 (protoc
		// encodes the same message, with the fields in this order, as this).
		encoded: "0a110a017312016d2001280230033a03722d3120073a03746f6b4a060a01611201314a060a01621201325801620401020304",
	},
}

func TestAppendMetaMatchesProtoc(t *testing.T) {
	for _, tt := range metaCases {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.wire
			if tt.encoded != "" {
				want = tt.encoded
			}
			got := baidustd.AppendMeta(nil, &tt.meta)
			assert.Equal(t, want, hex.EncodeToString(got))
		})
	}
}

func TestUnmarshalMetaReadsProtocBytes(t *testing.T) {
	for _, tt := range metaCases {
		t.Run(tt.name, func(t *testing.T) {
			for _, w := range []string{tt.wire, tt.encoded} {
				if w == "" {
					continue
				}
				b, err := hex.DecodeString(w)
				require.NoError(t, err)
				var m baidustd.Meta
				require.NoError(t, baidustd.UnmarshalMeta(b, &m))
				assert.Equal(t, tt.meta, m)
			}
		})
	}
}

func TestUnmarshalMetaSkipsUnknownFields(t *testing.T) {
	// correlation_id: 5, then unknown fields: 6 (varint), 13 (fixed32),
	// 14 (fixed64), 15 (bytes); then field 4 with the wrong wire type
	// (fixed32), which is skipped too.
	b, err := hex.DecodeString("2005" + "3001" + "6d01020304" + "710102030405060708" + "7a026869" + "2501020304")
	require.NoError(t, err)
	var m baidustd.Meta
	require.NoError(t, baidustd.UnmarshalMeta(b, &m))
	assert.Equal(t, baidustd.Meta{CorrelationID: 5}, m)
}

func TestUnmarshalMetaErrors(t *testing.T) {
	tests := []struct{ name, hex, msg string }{
		{"truncated varint", "20ff", "bad field 4 at offset 1"},
		{"bytes longer than the message", "0a05", "bad field 1 at offset 1"},
		{"bad tag", "00", "bad tag at offset 0"},
		{"bad request meta", "0a020aff", "request: bad field 1 at offset 1"},
		{"bad response meta", "120108", "response: bad field 1 at offset 1"},
		{"bad user field", "4a0112", "user_fields: bad field 2 at offset 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := hex.DecodeString(tt.hex)
			require.NoError(t, err)
			var m baidustd.Meta
			err = baidustd.UnmarshalMeta(b, &m)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
}
