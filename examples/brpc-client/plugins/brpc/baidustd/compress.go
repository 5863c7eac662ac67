package baidustd

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
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

// Decompress returns data decompressed with t, at most max bytes (see
// [BodyLimit]): a result over max is an [ErrTooLarge] error, found as soon
// as the output passes max, so that a small compressed payload cannot
// expand without bound.
func Decompress(t CompressType, data []byte, max int) ([]byte, error) {
	out, _, err := (*Budget)(nil).Decompress(t, data, max)
	return out, err
}

// Decompress is the package's Decompress with the output's memory taken
// from b as it grows (a nil b has no bound). A payload whose output would
// take more than b has left fails with an error wrapping [ErrOvercrowded].
// The returned Lease holds the bytes of the result: release it when done
// with the result. Without compression, the result is data itself and the
// lease holds nothing.
func (b *Budget) Decompress(t CompressType, data []byte, max int) ([]byte, Lease, error) {
	var r io.Reader
	var err error
	switch t {
	case CompressNone:
		if len(data) > BodyLimit(max) {
			return nil, Lease{}, frameErr(ErrTooLarge, "payload of %d bytes exceeds the limit of %d bytes", len(data), BodyLimit(max))
		}
		return data, Lease{}, nil
	case CompressGzip:
		r, err = gzip.NewReader(bytes.NewReader(data))
	case CompressZlib:
		r, err = zlib.NewReader(bytes.NewReader(data))
	default:
		return nil, Lease{}, frameErr(ErrPayload, "compress type %s is not supported", t)
	}
	if err != nil {
		return nil, Lease{}, causeErr(ErrPayload, err, t.String())
	}
	lease := Lease{b: b}
	out, err := inflate(r, BodyLimit(max), len(data), &lease)
	switch {
	case errors.Is(err, errTooLarge):
		err = frameErr(ErrTooLarge, "%s payload expands beyond the limit of %d bytes", t, BodyLimit(max))
	case errors.Is(err, ErrOvercrowded):
		err = fmt.Errorf("%s payload: %w", t, err)
	case err != nil:
		err = causeErr(ErrPayload, err, t.String())
	}
	if err != nil {
		lease.Release()
		return nil, Lease{}, err
	}
	return out, lease, nil
}

var errTooLarge = errors.New("too large")

// inflate reads r to its end into a buffer that grows, taking each growth
// from lease first, and stops with errTooLarge as soon as it holds more
// than most bytes. compressed is the input's size, for a first guess.
func inflate(r io.Reader, most, compressed int, lease *Lease) ([]byte, error) {
	limit := most
	if most < math.MaxInt {
		limit = most + 1 // one byte over tells a result over most
	}
	size := min(limit, max(4*compressed, 512))
	if err := lease.grow(size); err != nil {
		return nil, err
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			more := min(limit-cap(buf), cap(buf))
			if err := lease.grow(more); err != nil {
				return nil, err
			}
			buf = append(make([]byte, 0, cap(buf)+more), buf...)
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case len(buf) > most:
			return nil, errTooLarge
		case err == io.EOF:
			return buf, nil
		case err != nil:
			return nil, err
		}
	}
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
			return frameErr(ErrChecksum, "CRC32C %x of %d bytes, want %x", m.ChecksumValue, len(data), want)
		}
		return nil
	}
	return frameErr(ErrPayload, "checksum type %d is not supported", m.ChecksumType)
}

// Payload returns f's payload after checking its checksum and decompressing
// it, at most max bytes (see [BodyLimit]), with its memory taken from
// budget (nil: no bound; see [Budget.Decompress]). Release the lease when
// done with the payload.
func Payload(f *Frame, max int, budget *Budget) ([]byte, Lease, error) {
	if err := VerifyChecksum(&f.Meta, f.Payload); err != nil {
		return nil, Lease{}, err
	}
	return budget.Decompress(f.Meta.CompressType, f.Payload, max)
}

// DecodeResponse returns the payload of a response frame, checked and
// decompressed (see [Payload]). A response with a non-zero error_code is an
// [*Error] carrying the code and text (through [PeerText]); a frame
// carrying a request meta is an [ErrNotResponse] error. A frame with no
// response meta is a success, as bRPC treats it.
func DecodeResponse(f *Frame, max int, budget *Budget) ([]byte, Lease, error) {
	if req := f.Meta.Request; req != nil {
		return nil, Lease{}, frameErr(ErrNotResponse, "frame carries a request meta (%s.%s)", PeerText(req.ServiceName), PeerText(req.MethodName))
	}
	if r := f.Meta.Response; r != nil && r.ErrorCode != 0 {
		return nil, Lease{}, &Error{Code: Code(r.ErrorCode), Text: PeerText(r.ErrorText)}
	}
	return Payload(f, max, budget)
}
