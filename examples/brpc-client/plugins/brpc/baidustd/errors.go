package baidustd

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors wrapped by [*FrameError]; test for them with [errors.Is].
var (
	// ErrMagic reports a frame that does not start with "PRPC".
	ErrMagic = errors.New("bad magic")
	// ErrTooLarge reports a body over the decoder's size limit.
	ErrTooLarge = errors.New("body too large")
	// ErrMetaSize reports a meta size larger than the body size.
	ErrMetaSize = errors.New("meta size exceeds body size")
	// ErrTruncated reports a stream that ended inside a frame.
	ErrTruncated = errors.New("truncated frame")
	// ErrMeta reports an RpcMeta that is not valid protobuf, or whose
	// attachment_size does not fit the body.
	ErrMeta = errors.New("malformed meta")
	// ErrPayload reports a payload that cannot be decompressed.
	ErrPayload = errors.New("malformed payload")
	// ErrChecksum reports a payload whose checksum does not match.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrFrameTimeout reports a frame that did not arrive whole within
	// the Decoder's frame timeout (see [Decoder.SetFrameTimeout]).
	ErrFrameTimeout = errors.New("frame timeout")
	// ErrNotResponse reports a frame without response semantics where a
	// response was expected (it carries a request meta).
	ErrNotResponse = errors.New("not a response")
)

// FrameError is a frame that cannot be decoded. It wraps one of the sentinel
// errors above, and the error that revealed the problem if there is one,
// and says what was wrong.
type FrameError struct {
	// Err is the sentinel error.
	Err error
	// Detail describes the frame, e.g. "meta size 20 > body size 10".
	Detail string
	// Cause is the underlying error, such as a protobuf parse error or
	// gzip.ErrHeader, or nil; Detail includes its text.
	Cause error
}

// Error implements error.
func (e *FrameError) Error() string {
	if e.Detail == "" {
		return "baidu_std: " + e.Err.Error()
	}
	return "baidu_std: " + e.Err.Error() + ": " + e.Detail
}

// Unwrap returns the sentinel error and the cause, if any.
func (e *FrameError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}

func frameErr(sentinel error, format string, args ...any) *FrameError {
	return &FrameError{Err: sentinel, Detail: fmt.Sprintf(format, args...)}
}

// causeErr is frameErr for a problem revealed by cause: the detail is
// prefix, ": " and cause's text (without the prefix when the text already
// starts with it, as "gzip: invalid header" does), and the error wraps
// cause too.
func causeErr(sentinel, cause error, prefix string) *FrameError {
	detail := cause.Error()
	if prefix != "" && !strings.HasPrefix(detail, prefix+": ") {
		detail = prefix + ": " + detail
	}
	return &FrameError{Err: sentinel, Detail: detail, Cause: cause}
}

// MaxPeerText is the most bytes of a peer's text (an error_text, a service
// name) that [PeerText] keeps.
const MaxPeerText = 1024

// PeerText returns s, a text a peer sent, fit for an error message or a
// log line: invalid UTF-8 becomes U+FFFD, control characters (terminal
// escapes, line breaks) are dropped, and a text longer than MaxPeerText
// bytes is cut there and says how long it was.
func PeerText(s string) string {
	clean := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, string(utf8.RuneError)))
	if len(clean) <= MaxPeerText {
		return clean
	}
	cut := MaxPeerText
	for cut > 0 && !utf8.RuneStart(clean[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (truncated, %d bytes in all)", clean[:cut], len(s))
}

// Code is a bRPC error code (brpc/errno.proto), sent in
// RpcResponseMeta.error_code.
type Code int32

// The bRPC error codes this package names.
const (
	ENOSERVICE   Code = 1001 // service not found
	ENOMETHOD    Code = 1002 // method not found
	EREQUEST     Code = 1003 // bad request (e.g. the payload does not parse)
	ERPCAUTH     Code = 1004 // unauthorized
	ERPCTIMEDOUT Code = 1008 // the RPC timed out
	EOVERCROWDED Code = 1011 // too many pending requests
	EINTERNAL    Code = 2001 // server-side error
	ERESPONSE    Code = 2002 // bad response
	ELOGOFF      Code = 2003 // the server is stopping
	ELIMIT       Code = 2004 // concurrency limit reached
	ECLOSE       Code = 2005 // the connection was closed
)

var codeNames = map[Code]string{
	ENOSERVICE:   "ENOSERVICE",
	ENOMETHOD:    "ENOMETHOD",
	EREQUEST:     "EREQUEST",
	ERPCAUTH:     "ERPCAUTH",
	ERPCTIMEDOUT: "ERPCTIMEDOUT",
	EOVERCROWDED: "EOVERCROWDED",
	EINTERNAL:    "EINTERNAL",
	ERESPONSE:    "ERESPONSE",
	ELOGOFF:      "ELOGOFF",
	ELIMIT:       "ELIMIT",
	ECLOSE:       "ECLOSE",
}

// String returns the code's errno name, such as "ENOMETHOD", or "E<code>"
// for codes this package does not name.
func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("E%d", int32(c))
}

// Error is an error a bRPC server answered with: the error_code and
// error_text of the response meta.
type Error struct {
	// Code is the response's error_code.
	Code Code
	// Text is the response's error_text, such as
	// "[127.0.0.1:8000][E1002]Fail to find method=Nope", passed through
	// [PeerText] by [DecodeResponse].
	Text string
}

// Error implements error: "ENOMETHOD (1002): <text>".
func (e *Error) Error() string {
	return fmt.Sprintf("%s (%d): %s", e.Code, int32(e.Code), e.Text)
}
