package baidustd

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"hash/crc32"
	"io"
	"sync"
)

var (
	gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}
	zlibWriters = sync.Pool{New: func() any { return zlib.NewWriter(nil) }}
)

// resetWriter is what gzip and zlib writers have in common.
type resetWriter interface {
	io.WriteCloser
	Reset(io.Writer)
}

// AppendCompressed appends payload compressed with t to dst. Snappy is not
// supported; it is an error, as is an unknown type.
func AppendCompressed(dst []byte, t CompressType, payload []byte) ([]byte, error) {
	var pool *sync.Pool
	switch t {
	case CompressNone:
		return append(dst, payload...), nil
	case CompressGzip:
		pool = &gzipWriters
	case CompressZlib:
		pool = &zlibWriters
	default:
		return dst, fmt.Errorf("compress type %s is not supported (use none, gzip or zlib)", t)
	}
	buf := bytes.NewBuffer(dst)
	w := pool.Get().(resetWriter)
	defer pool.Put(w)
	w.Reset(buf)
	if _, err := w.Write(payload); err != nil {
		return dst, fmt.Errorf("%s: %w", t, err)
	}
	if err := w.Close(); err != nil {
		return dst, fmt.Errorf("%s: %w", t, err)
	}
	return buf.Bytes(), nil
}

// Decompress returns data decompressed with t. A result of more than max
// bytes is an error, so that a small compressed payload cannot expand
// without bound.
func Decompress(t CompressType, data []byte, max int) ([]byte, error) {
	var r io.Reader
	var err error
	switch t {
	case CompressNone:
		return data, nil
	case CompressGzip:
		r, err = gzip.NewReader(bytes.NewReader(data))
	case CompressZlib:
		r, err = zlib.NewReader(bytes.NewReader(data))
	default:
		return nil, frameErr(ErrPayload, "compress type %s is not supported", t)
	}
	if err != nil {
		return nil, causeErr(ErrPayload, err, t.String())
	}
	out, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return nil, causeErr(ErrPayload, err, t.String())
	}
	if len(out) > max {
		return nil, frameErr(ErrTooLarge, "%s payload expands beyond the limit of %d bytes", t, max)
	}
	return out, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the checksum_value bRPC sends with checksum_type 1: the
// CRC32C of data, masked, as 4 big-endian bytes.
func Checksum(data []byte) []byte {
	c := crc32.Checksum(data, castagnoli)
	m := (c>>15 | c<<17) + 0xa282ead8
	return []byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}
}

// VerifyChecksum checks data against the meta's checksum, if it has one.
func VerifyChecksum(m *Meta, data []byte) error {
	switch m.ChecksumType {
	case 0:
		return nil
	case ChecksumCRC32C:
		if want := Checksum(data); !bytes.Equal(want, m.ChecksumValue) {
			return frameErr(ErrPayload, "CRC32C checksum %x, want %x", m.ChecksumValue, want)
		}
		return nil
	}
	return frameErr(ErrPayload, "checksum type %d is not supported", m.ChecksumType)
}

// Payload returns f's payload after checking its checksum and decompressing
// it; the result holds at most max bytes.
func Payload(f *Frame, max int) ([]byte, error) {
	if err := VerifyChecksum(&f.Meta, f.Payload); err != nil {
		return nil, err
	}
	return Decompress(f.Meta.CompressType, f.Payload, max)
}

// DecodeResponse returns the payload of a response frame, checked and
// decompressed (see [Payload]). A response with a non-zero error_code is an
// [*Error] carrying the code and text; a frame carrying a request meta is an
// [ErrNotResponse] error. A frame with no response meta is a success, as
// bRPC treats it.
func DecodeResponse(f *Frame, max int) ([]byte, error) {
	if f.Meta.Request != nil {
		return nil, frameErr(ErrNotResponse, "frame carries a request meta (%s.%s)", f.Meta.Request.ServiceName, f.Meta.Request.MethodName)
	}
	if r := f.Meta.Response; r != nil && r.ErrorCode != 0 {
		return nil, &Error{Code: Code(r.ErrorCode), Text: r.ErrorText}
	}
	return Payload(f, max)
}
