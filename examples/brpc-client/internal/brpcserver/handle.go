package brpcserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
)

// response is what run produces: an error code and text, or a payload and
// attachment.
type response struct {
	code       baidustd.Code
	text       string
	payload    []byte
	attachment []byte
	lease      baidustd.Lease // the decompressed request payload's
}

func (r *response) fail(code baidustd.Code, format string, args ...any) {
	r.code, r.text = code, fmt.Sprintf(format, args...)
}

// run finds the method f asks for and calls it.
func (sc *serverConn) run(f *baidustd.Frame, rsp *response) {
	svc, handler := sc.find(f, rsp)
	if handler == nil {
		return
	}
	req := f.Meta.Request
	ctx := sc.ctx
	if req.TimeoutMs > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.TimeoutMs)*time.Millisecond)
		defer cancel()
	}
	info := &requestInfo{attachment: f.Attachment, logID: req.LogID}
	ctx = context.WithValue(ctx, requestInfoKey{}, info)

	refused := false // the payload was refused, and rsp says why
	decode := func(m any) error {
		err := sc.decode(f, m.(proto.Message), rsp)
		refused = err != nil
		return err
	}
	out, err := call(handler, svc.impl, ctx, decode)
	switch {
	case refused:
		return
	case err != nil:
		var e *baidustd.Error
		switch {
		case errors.As(err, &e):
			rsp.fail(e.Code, "%s", e.Text)
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
			rsp.fail(baidustd.ERPCTIMEDOUT, "Reached timeout=%dms", req.TimeoutMs)
		default:
			rsp.fail(baidustd.EINTERNAL, "%v", err)
		}
		return
	}
	rsp.encode(out)
	rsp.attachment = info.rspAttachment
}

// find returns the service and method handler f asks for, or fails rsp as
// bRPC 1.17 does: a service name without a package (as jprotobuf sends
// it) is looked up by its short name; otherwise a service or method that
// does not exist are both ENOMETHOD, naming service/method.
func (sc *serverConn) find(f *baidustd.Frame, rsp *response) (*service, grpc.MethodHandler) {
	req := f.Meta.Request
	if req == nil {
		rsp.fail(baidustd.EREQUEST, "Missing request meta")
		return nil, nil
	}
	name := req.ServiceName
	if !strings.Contains(name, ".") {
		full, ok := sc.s.shortNames[name]
		if !ok {
			rsp.fail(baidustd.ENOSERVICE, "Fail to find service=%s", baidustd.PeerText(req.ServiceName))
			return nil, nil
		}
		name = full
	}
	svc, ok := sc.s.services[name]
	var handler grpc.MethodHandler
	if ok {
		handler, ok = svc.methods[req.MethodName]
	}
	if !ok {
		rsp.fail(baidustd.ENOMETHOD, "Fail to find method=%s/%s", baidustd.PeerText(req.ServiceName), baidustd.PeerText(req.MethodName))
		return nil, nil
	}
	return svc, handler
}

// decode checks, decompresses (within the connection's budget) and parses
// f's payload into msg. The decompressed payload's lease goes into rsp, to
// be released once the request is answered. On failure, rsp holds the
// answer, as bRPC words it, and the error says what failed.
func (sc *serverConn) decode(f *baidustd.Frame, msg proto.Message, rsp *response) error {
	name := msg.ProtoReflect().Descriptor().FullName()
	payload, lease, err := baidustd.Payload(f, sc.s.maxBodySize, sc.budget)
	if err != nil {
		var fe *baidustd.FrameError
		detail := err.Error()
		if errors.As(err, &fe) {
			detail = fe.Detail
		}
		switch {
		case errors.Is(err, baidustd.ErrChecksum):
			rsp.fail(baidustd.EREQUEST, "Checksum mismatch of request=%s, ChecksumType=%s, request_size=%d: %s",
				name, checksumTypeName(f.Meta.ChecksumType), len(f.Payload), detail)
		case errors.Is(err, baidustd.ErrOvercrowded):
			rsp.fail(baidustd.EOVERCROWDED, "Fail to decompress request=%s, CompressType=%s, request_size=%d: %s",
				name, f.Meta.CompressType, len(f.Payload), detail)
		default:
			rsp.fail(baidustd.EREQUEST, "Fail to decompress request=%s, CompressType=%s, request_size=%d: %s",
				name, f.Meta.CompressType, len(f.Payload), detail)
		}
		return err
	}
	rsp.lease.Release() // a handler that decodes twice holds one payload
	rsp.lease = lease
	if err := proto.Unmarshal(payload, msg); err != nil {
		rsp.fail(baidustd.EREQUEST, "Fail to parse request=%s, ContentType=%s, CompressType=%s, ChecksumType=%s, request_size=%d",
			name, contentTypeName(f.Meta.ContentType), f.Meta.CompressType, checksumTypeName(f.Meta.ChecksumType), len(f.Payload))
		return fmt.Errorf("parse %s: %w", name, err)
	}
	return nil
}

// encode sets r's payload to the handler's result out.
func (r *response) encode(out any) {
	msg, ok := out.(proto.Message)
	if !ok {
		r.fail(baidustd.ERESPONSE, "Handler returned %T, not a protobuf message", out)
		return
	}
	var err error
	if r.payload, err = proto.Marshal(msg); err != nil {
		r.fail(baidustd.ERESPONSE, "Fail to serialize response: %v", err)
	}
}

// contentTypeName and checksumTypeName spell the meta's types as bRPC's
// error texts do.
func contentTypeName(t int32) string {
	if t == 0 {
		return "pb"
	}
	return fmt.Sprintf("content_type(%d)", t)
}

func checksumTypeName(t int32) string {
	switch t {
	case 0:
		return "none"
	case baidustd.ChecksumCRC32C:
		return "crc32c"
	}
	return "unknown"
}

// call runs a method handler, turning a panic into an error.
func call(h grpc.MethodHandler, impl any, ctx context.Context, decode func(any) error) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return h(impl, ctx, decode, nil)
}

type requestInfoKey struct{}

// requestInfo is what a handler can read and set of the baidu_std frame.
type requestInfo struct {
	attachment    []byte
	rspAttachment []byte
	logID         int64
}

// RequestAttachment returns the attachment of the request ctx belongs to,
// or nil outside a baidu_std request.
func RequestAttachment(ctx context.Context) []byte {
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return info.attachment
	}
	return nil
}

// SetResponseAttachment sets the attachment sent with the response to the
// request ctx belongs to. Outside a baidu_std request it does nothing.
func SetResponseAttachment(ctx context.Context, b []byte) {
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		info.rspAttachment = b
	}
}

// LogID returns the log_id of the request ctx belongs to (0 if none).
func LogID(ctx context.Context) int64 {
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		return info.logID
	}
	return 0
}
