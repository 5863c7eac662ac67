package baidustd

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Magic opens every baidu_std frame.
const Magic = "PRPC"

// HeaderSize is the size of a frame header: magic, body size, meta size.
const HeaderSize = 12

// DefaultMaxBodySize is bRPC's default max_body_size: 64 MiB.
const DefaultMaxBodySize = 64 << 20

// BodyLimit returns the body size limit n stands for: n when it is
// positive, DefaultMaxBodySize when it is 0 or negative. Every limit on
// bodies and payloads in this package, and in its users, goes through it,
// so that 0 means the default everywhere and math.MaxInt means no limit.
func BodyLimit(n int) int {
	if n <= 0 {
		return DefaultMaxBodySize
	}
	return n
}

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
// (see [BodyLimit]) and returns the body and meta sizes.
func ParseHeader(h []byte, maxBodySize int) (bodySize, metaSize int, err error) {
	maxBodySize = BodyLimit(maxBodySize)
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

	dl       deadliner     // the stream, if it takes read deadlines
	timeout  time.Duration // a frame's time to arrive; 0: no limit
	deadline bool          // a read deadline is set on dl
}

// deadliner is what a stream needs for a frame timeout; net.Conn has it.
type deadliner interface{ SetReadDeadline(time.Time) error }

// readBufferSize is the size of a Decoder's buffer: a connection's cost
// while it is idle, and the most bytes one read of small frames takes in.
const readBufferSize = 8 << 10

// NewDecoder returns a Decoder that reads from r, buffered, and refuses
// bodies over maxBodySize bytes (see [BodyLimit]).
func NewDecoder(r io.Reader, maxBodySize int) *Decoder {
	dl, _ := r.(deadliner)
	return &Decoder{r: bufio.NewReaderSize(r, readBufferSize), max: BodyLimit(maxBodySize), dl: dl}
}

// SetFrameTimeout gives each frame t to arrive whole, from the moment the
// Decoder sees its first byte (t <= 0: no limit, the default). It needs a
// stream with a SetReadDeadline method, such as a net.Conn, and does
// nothing on others. The deadline is set once per frame, so that a peer
// sending a byte at a time cannot extend it, and cleared between frames,
// so that an idle stream never times out. A frame that takes longer fails
// Decode with an error wrapping [ErrFrameTimeout]; the stream cannot be
// resynchronised after it.
func (d *Decoder) SetFrameTimeout(t time.Duration) {
	if d.dl != nil {
		d.timeout = max(t, 0)
	}
}

// Decode reads the next frame into f. It returns io.EOF when the stream ends
// cleanly between frames, a [*FrameError] for a bad or late frame (after
// which the stream cannot be resynchronised), and read errors wrapped with
// context.
func (d *Decoder) Decode(f *Frame) error {
	if err := d.startFrame(); err != nil {
		return d.readErr(err, 0, 0)
	}
	n, err := io.ReadFull(d.r, d.hdr[:])
	if err != nil {
		return d.readErr(err, n, 0)
	}
	bodySize, metaSize, err := ParseHeader(d.hdr[:], d.max)
	if err != nil {
		return err
	}
	body, err := readBody(d.r, bodySize)
	if err != nil {
		return d.readErr(err, len(body), bodySize)
	}
	return DecodeBody(body, metaSize, f)
}

// startFrame waits, with no deadline, for the first byte of the next
// frame, then gives the frame its deadline unless it is whole in the
// buffer already.
func (d *Decoder) startFrame() error {
	if d.dl == nil {
		return nil
	}
	if d.r.Buffered() == 0 {
		d.setDeadline(time.Time{})
		if _, err := d.r.Peek(1); err != nil {
			return err
		}
	}
	if b, _ := d.r.Peek(d.r.Buffered()); len(b) >= HeaderSize && len(b)-HeaderSize >= int(binary.BigEndian.Uint32(b[4:])) {
		return nil
	}
	if d.timeout == 0 {
		d.setDeadline(time.Time{})
		return nil
	}
	return d.setDeadline(time.Now().Add(d.timeout))
}

// setDeadline sets the stream's read deadline to t, unless it is known to
// be clear already and t is zero.
func (d *Decoder) setDeadline(t time.Time) error {
	if t.IsZero() && !d.deadline {
		return nil
	}
	d.deadline = !t.IsZero()
	return d.dl.SetReadDeadline(t)
}

// WaitFrame waits for the first byte of the next frame, under whatever
// read deadline the caller has set on the stream; it returns at once when
// one is buffered. A deadline that passes consumes nothing: Decode may
// follow as if WaitFrame had not been called. Once WaitFrame has returned,
// Decode replaces the caller's deadline with the frame's own (or none).
func (d *Decoder) WaitFrame() error {
	d.deadline = d.dl != nil
	if d.r.Buffered() > 0 {
		return nil
	}
	_, err := d.r.Peek(1)
	return err
}

// readErr describes a read error met after got bytes of the header (when
// body is 0) or of a body of body bytes.
func (d *Decoder) readErr(err error, got, body int) error {
	part, size := "header", HeaderSize
	if body > 0 {
		part, size = "body", body
	}
	switch {
	case errors.Is(err, io.EOF) && got == 0 && body == 0:
		return io.EOF
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return frameErr(ErrTruncated, "stream ended after %d of %d %s bytes", got, size, part)
	case d.deadline && errors.Is(err, os.ErrDeadlineExceeded):
		return &FrameError{Err: ErrFrameTimeout, Cause: err,
			Detail: fmt.Sprintf("frame not whole after %s (%d of %d %s bytes)", d.timeout, got, size, part)}
	}
	return fmt.Errorf("baidu_std: read %s: %w", part, err)
}

// Buffered returns how many bytes the Decoder has read from its stream
// but not yet decoded: the start of the next frame, if any.
func (d *Decoder) Buffered() int { return d.r.Buffered() }

// minBodyChunk is the least readBody allocates for a body that has not
// arrived yet.
const minBodyChunk = 4 << 10

// readBody reads a body of n bytes into memory committed as the bytes
// arrive: what is buffered (at least minBodyChunk), then twice as much
// each time that fills, so that a header claiming a large body costs
// little by itself and the copies add up to less than n. On error, it
// returns the bytes read so far.
func readBody(r *bufio.Reader, n int) ([]byte, error) {
	body := make([]byte, min(n, max(r.Buffered(), minBodyChunk)))
	for got := 0; ; {
		m, err := io.ReadFull(r, body[got:])
		got += m
		if err != nil {
			return body[:got], err
		}
		if got == n {
			return body, nil
		}
		grown := make([]byte, min(n, 2*len(body)))
		copy(grown, body)
		body = grown
	}
}
