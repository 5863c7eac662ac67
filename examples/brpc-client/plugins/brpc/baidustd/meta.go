package baidustd

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// CompressType says how a payload is compressed (RpcMeta.compress_type).
type CompressType int32

// The compression types of bRPC's options.proto.
const (
	CompressNone   CompressType = 0
	CompressSnappy CompressType = 1
	CompressGzip   CompressType = 2
	CompressZlib   CompressType = 3
)

// String returns the name bRPC uses for t, or "compress(N)".
func (t CompressType) String() string {
	switch t {
	case CompressNone:
		return "none"
	case CompressSnappy:
		return "snappy"
	case CompressGzip:
		return "gzip"
	case CompressZlib:
		return "zlib"
	}
	return fmt.Sprintf("compress(%d)", int32(t))
}

// ChecksumCRC32C is the checksum_type of a masked CRC32C over the payload.
const ChecksumCRC32C int32 = 1

// Meta is bRPC's RpcMeta (package brpc.policy): the first part of every
// frame's body. A request has Request set, a response has Response set.
type Meta struct {
	Request            *RequestMeta      // field 1
	Response           *ResponseMeta     // field 2
	CompressType       CompressType      // field 3
	CorrelationID      int64             // field 4, echoed back unchanged by servers
	AttachmentSize     int32             // field 5
	AuthenticationData []byte            // field 7
	UserFields         map[string]string // field 9
	ContentType        int32             // field 10, 0 is protobuf
	ChecksumType       int32             // field 11
	ChecksumValue      []byte            // field 12
}

// RequestMeta is bRPC's RpcRequestMeta.
type RequestMeta struct {
	ServiceName  string // field 1: full protobuf service name, e.g. "example.EchoService"
	MethodName   string // field 2: bare method name, e.g. "Echo"
	LogID        int64  // field 3
	TraceID      int64  // field 4
	SpanID       int64  // field 5
	ParentSpanID int64  // field 6
	RequestID    string // field 7
	TimeoutMs    int32  // field 8
}

// ResponseMeta is bRPC's RpcResponseMeta.
type ResponseMeta struct {
	ErrorCode int32  // field 1
	ErrorText string // field 2
}

// AppendMeta appends the protobuf encoding of m to b. Fields are written in
// field-number order; zero optional fields are left out, except
// correlation_id and the response's error_code, which bRPC always sets.
// user_fields are written in key order, so the output is deterministic.
func AppendMeta(b []byte, m *Meta) []byte {
	if m.Request != nil {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(requestMetaSize(m.Request)))
		b = appendRequestMeta(b, m.Request)
	}
	if m.Response != nil {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(responseMetaSize(m.Response)))
		b = appendResponseMeta(b, m.Response)
	}
	b = appendInt(b, 3, int64(m.CompressType))
	b = protowire.AppendTag(b, 4, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(m.CorrelationID))
	b = appendInt(b, 5, int64(m.AttachmentSize))
	b = appendBytes(b, 7, m.AuthenticationData)
	keys := make([]string, 0, len(m.UserFields))
	for k := range m.UserFields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := m.UserFields[k]
		b = protowire.AppendTag(b, 9, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(stringSize(1, k)+stringSize(2, v)))
		b = appendString(b, 1, k)
		b = appendString(b, 2, v)
	}
	b = appendInt(b, 10, int64(m.ContentType))
	b = appendInt(b, 11, int64(m.ChecksumType))
	b = appendBytes(b, 12, m.ChecksumValue)
	return b
}

func appendRequestMeta(b []byte, r *RequestMeta) []byte {
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, r.ServiceName)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, r.MethodName)
	b = appendInt(b, 3, r.LogID)
	b = appendInt(b, 4, r.TraceID)
	b = appendInt(b, 5, r.SpanID)
	b = appendInt(b, 6, r.ParentSpanID)
	b = appendString(b, 7, r.RequestID)
	b = appendInt(b, 8, int64(r.TimeoutMs))
	return b
}

func requestMetaSize(r *RequestMeta) int {
	return 2 + protowire.SizeBytes(len(r.ServiceName)) + protowire.SizeBytes(len(r.MethodName)) +
		intSize(3, r.LogID) + intSize(4, r.TraceID) + intSize(5, r.SpanID) + intSize(6, r.ParentSpanID) +
		stringSize(7, r.RequestID) + intSize(8, int64(r.TimeoutMs))
}

func appendResponseMeta(b []byte, r *ResponseMeta) []byte {
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(int64(r.ErrorCode)))
	return appendString(b, 2, r.ErrorText)
}

func responseMetaSize(r *ResponseMeta) int {
	return 1 + protowire.SizeVarint(uint64(int64(r.ErrorCode))) + stringSize(2, r.ErrorText)
}

// appendInt appends a varint field unless v is zero. Negative int32 values
// are sign-extended to 64 bits, as protobuf encodes them.
func appendInt(b []byte, num protowire.Number, v int64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

func intSize(num protowire.Number, v int64) int {
	if v == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeVarint(uint64(v))
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func stringSize(num protowire.Number, s string) int {
	if s == "" {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeBytes(len(s))
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// UnmarshalMeta decodes an RpcMeta from b into m, which it resets first.
// Unknown fields, and known fields with an unexpected wire type, are
// skipped, as protobuf parsers do. Byte fields alias b.
func UnmarshalMeta(b []byte, m *Meta) error {
	*m = Meta{}
	return walk(b, func(num protowire.Number, typ protowire.Type, v uint64, data []byte) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			m.Request = &RequestMeta{}
			return unmarshalRequestMeta(data, m.Request)
		case num == 2 && typ == protowire.BytesType:
			m.Response = &ResponseMeta{}
			return unmarshalResponseMeta(data, m.Response)
		case num == 3 && typ == protowire.VarintType:
			m.CompressType = CompressType(int32(v))
		case num == 4 && typ == protowire.VarintType:
			m.CorrelationID = int64(v)
		case num == 5 && typ == protowire.VarintType:
			m.AttachmentSize = int32(v)
		case num == 7 && typ == protowire.BytesType:
			m.AuthenticationData = data
		case num == 9 && typ == protowire.BytesType:
			return unmarshalUserField(data, m)
		case num == 10 && typ == protowire.VarintType:
			m.ContentType = int32(v)
		case num == 11 && typ == protowire.VarintType:
			m.ChecksumType = int32(v)
		case num == 12 && typ == protowire.BytesType:
			m.ChecksumValue = data
		}
		return nil
	})
}

func unmarshalRequestMeta(b []byte, r *RequestMeta) error {
	err := walk(b, func(num protowire.Number, typ protowire.Type, v uint64, data []byte) error {
		if typ == protowire.BytesType {
			switch num {
			case 1:
				r.ServiceName = string(data)
			case 2:
				r.MethodName = string(data)
			case 7:
				r.RequestID = string(data)
			}
			return nil
		}
		if typ != protowire.VarintType {
			return nil
		}
		switch num {
		case 3:
			r.LogID = int64(v)
		case 4:
			r.TraceID = int64(v)
		case 5:
			r.SpanID = int64(v)
		case 6:
			r.ParentSpanID = int64(v)
		case 8:
			r.TimeoutMs = int32(v)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	return nil
}

func unmarshalResponseMeta(b []byte, r *ResponseMeta) error {
	err := walk(b, func(num protowire.Number, typ protowire.Type, v uint64, data []byte) error {
		switch {
		case num == 1 && typ == protowire.VarintType:
			r.ErrorCode = int32(v)
		case num == 2 && typ == protowire.BytesType:
			r.ErrorText = string(data)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("response: %w", err)
	}
	return nil
}

func unmarshalUserField(b []byte, m *Meta) error {
	var k, v string
	err := walk(b, func(num protowire.Number, typ protowire.Type, _ uint64, data []byte) error {
		if typ == protowire.BytesType && num == 1 {
			k = string(data)
		} else if typ == protowire.BytesType && num == 2 {
			v = string(data)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("user_fields: %w", err)
	}
	if m.UserFields == nil {
		m.UserFields = map[string]string{}
	}
	m.UserFields[k] = v
	return nil
}

// walk calls f for every field of the protobuf message b: v holds a varint
// value, data the contents of a length-delimited field. Fixed-size and group
// fields are skipped.
func walk(b []byte, f func(num protowire.Number, typ protowire.Type, v uint64, data []byte) error) error {
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return fmt.Errorf("bad tag at offset %d: %w", off, protowire.ParseError(n))
		}
		off += n
		var v uint64
		var data []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b[off:])
		case protowire.BytesType:
			data, n = protowire.ConsumeBytes(b[off:])
		default:
			n = protowire.ConsumeFieldValue(num, typ, b[off:])
		}
		if n < 0 {
			return fmt.Errorf("bad field %d at offset %d: %w", num, off, protowire.ParseError(n))
		}
		off += n
		if err := f(num, typ, v, data); err != nil {
			return err
		}
	}
	return nil
}
