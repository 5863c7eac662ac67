package baidustd

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Magic opens every baidu_std frame.
const Magic = "PRPC"

// HeaderSize is the size of a frame header: magic, body size, meta size.
const HeaderSize = 12

// DefaultMaxBodySize is bRPC's default max_body_size: 64 MiB.
const DefaultMaxBodySize = 64 << 20

// Frame is one decoded frame. Payload and Attachment alias the body the
// [Decoder] allocated for this frame; they stay valid after the next Decode.
type Frame struct {
	Meta       Meta
	Payload    []byte
	Attachment []byte
}

// AppendFrame appends a whole frame to dst: header, m, payload and
// attachment. It sets m.AttachmentSize to len(attachment).
func AppendFrame(dst []byte, m *Meta, payload, attachment []byte) []byte {
	m.AttachmentSize = int32(len(attachment))
	start := len(dst)
	dst = append(dst, Magic...)
	dst = append(dst, make([]byte, 8)...)
	dst = AppendMeta(dst, m)
	metaSize := len(dst) - start - HeaderSize
	dst = append(dst, payload...)
	dst = append(dst, attachment...)
	binary.BigEndian.PutUint32(dst[start+4:], uint32(len(dst)-start-HeaderSize))
	binary.BigEndian.PutUint32(dst[start+8:], uint32(metaSize))
	return dst
}

// ParseHeader checks a 12-byte frame header against the body size limit
// and returns the body and meta sizes.
func ParseHeader(h []byte, maxBodySize int) (bodySize, metaSize int, err error) {
	if len(h) < HeaderSize {
		return 0, 0, frameErr(ErrTruncated, "header of %d bytes, want %d", len(h), HeaderSize)
	}
	if string(h[:4]) != Magic {
		return 0, 0, frameErr(ErrMagic, "got %q, want %q", h[:4], Magic)
	}
	body := binary.BigEndian.Uint32(h[4:])
	meta := binary.BigEndian.Uint32(h[8:])
	if uint64(body) > uint64(maxBodySize) {
		return 0, 0, frameErr(ErrTooLarge, "body size %d exceeds the limit of %d bytes", body, maxBodySize)
	}
	if meta > body {
		return 0, 0, frameErr(ErrMetaSize, "meta size %d > body size %d", meta, body)
	}
	return int(body), int(meta), nil
}

// DecodeBody decodes a frame body whose first metaSize bytes are the meta.
// f's Payload and Attachment alias body.
func DecodeBody(body []byte, metaSize int, f *Frame) error {
	if metaSize < 0 || metaSize > len(body) {
		return frameErr(ErrMetaSize, "meta size %d > body size %d", metaSize, len(body))
	}
	if err := UnmarshalMeta(body[:metaSize], &f.Meta); err != nil {
		return causeErr(ErrMeta, err, "")
	}
	rest := body[metaSize:]
	att := f.Meta.AttachmentSize
	if att < 0 || int(att) > len(rest) {
		return frameErr(ErrMeta, "attachment_size %d does not fit the %d bytes after the meta", att, len(rest))
	}
	f.Payload = rest[:len(rest)-int(att)]
	f.Attachment = rest[len(rest)-int(att):]
	return nil
}

// Decoder reads frames from a stream.
type Decoder struct {
	r   *bufio.Reader
	max int
	hdr [HeaderSize]byte
}

// NewDecoder returns a Decoder that reads from r, buffered, and refuses
// bodies over maxBodySize bytes (0 means [DefaultMaxBodySize]).
func NewDecoder(r io.Reader, maxBodySize int) *Decoder {
	if maxBodySize <= 0 {
		maxBodySize = DefaultMaxBodySize
	}
	return &Decoder{r: bufio.NewReaderSize(r, 32<<10), max: maxBodySize}
}

// Decode reads the next frame into f. It returns io.EOF when the stream ends
// cleanly between frames, a [*FrameError] for a bad frame (after which the
// stream cannot be resynchronised), and read errors wrapped with context.
func (d *Decoder) Decode(f *Frame) error {
	n, err := io.ReadFull(d.r, d.hdr[:])
	if err != nil {
		if errors.Is(err, io.EOF) && n == 0 {
			return io.EOF
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return frameErr(ErrTruncated, "stream ended after %d of %d header bytes", n, HeaderSize)
		}
		return fmt.Errorf("baidu_std: read header: %w", err)
	}
	bodySize, metaSize, err := ParseHeader(d.hdr[:], d.max)
	if err != nil {
		return err
	}
	body, err := readBody(d.r, bodySize)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return frameErr(ErrTruncated, "stream ended after %d of %d body bytes", len(body), bodySize)
		}
		return fmt.Errorf("baidu_std: read body: %w", err)
	}
	return DecodeBody(body, metaSize, f)
}

// Buffered returns how many bytes the Decoder has read from its stream
// but not yet decoded: the start of the next frame, if any.
func (d *Decoder) Buffered() int { return d.r.Buffered() }

// readChunk is the most readBody allocates ahead of the bytes that arrived.
const readChunk = 1 << 20

// readBody reads a body of n bytes. A large body's buffer grows as its
// bytes arrive, so that a header claiming a large body does not cost
// memory by itself. On error, it returns the bytes read so far.
func readBody(r io.Reader, n int) ([]byte, error) {
	body := make([]byte, min(n, readChunk))
	for got := 0; ; {
		m, err := io.ReadFull(r, body[got:])
		got += m
		if err != nil {
			return body[:got], err
		}
		if got == n {
			return body, nil
		}
		body = append(body, make([]byte, min(n-got, len(body)))...)
	}
}
