// Package brpcserver serves protobuf services over baidu_std, the protocol of
// Apache bRPC, so that this module's brpc client can be tested and measured
// against a real server on loopback.
//
// It implements grpc.ServiceRegistrar: the generated RegisterXxxServer
// functions register a service on it exactly as on a gRPC server, and one
// implementation serves both protocols:
//
//	s := brpcserver.New()
//	echopb.RegisterEchoServiceServer(s, echo.Service{})
//	go s.Serve(listener)
//	defer s.Close()
//
// Requests run concurrently, each in its own goroutine. Service names are
// resolved, and errors answered, as bRPC 1.17's server does (checked
// against its example/echo_c++ echo_server): a full service name
// ("example.EchoService") or a short one ("EchoService"); an unknown short
// name is 1001 (ENOSERVICE) "Fail to find service=Nope", an unknown full
// service or method 1002 (ENOMETHOD) "Fail to find method=example.Nope/Echo",
// a payload that does not parse 1003 (EREQUEST) "Fail to parse
// request=example.EchoRequest, ContentType=pb, CompressType=none,
// ChecksumType=none, request_size=0"; each text is prefixed with
// "[ip:port][E<code>]".
package brpcserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
)

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("brpcserver: server closed")

// Server serves registered services over baidu_std.
type Server struct {
	maxBodySize int
	logger      *log.Logger
	services    map[string]*service
	shortNames  map[string]string // a service's name without its package -> its full name

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*serverConn]struct{}
	closed    bool
	wg        sync.WaitGroup
}

type service struct {
	impl    any
	methods map[string]grpc.MethodHandler
}

// Option configures a Server.
type Option func(*Server)

// MaxBodySize sets the largest request body the server reads (default
// baidustd.DefaultMaxBodySize, which n <= 0 also means); a larger one
// closes the connection. It bounds a decompressed payload too.
func MaxBodySize(n int) Option { return func(s *Server) { s.maxBodySize = n } }

// ErrorLog sets where the server reports broken connections (default:
// nowhere).
func ErrorLog(l *log.Logger) Option { return func(s *Server) { s.logger = l } }

// New returns a server with no services.
func New(opts ...Option) *Server {
	s := &Server{
		maxBodySize: baidustd.DefaultMaxBodySize,
		services:    map[string]*service{},
		shortNames:  map[string]string{},
		listeners:   map[net.Listener]struct{}{},
		conns:       map[*serverConn]struct{}{},
	}
	for _, o := range opts {
		o(s)
	}
	if s.maxBodySize <= 0 {
		s.maxBodySize = baidustd.DefaultMaxBodySize
	}
	return s
}

// RegisterService registers the unary methods of desc, implemented by impl.
// It implements grpc.ServiceRegistrar; call it before Serve. Streaming
// methods are not served.
func (s *Server) RegisterService(desc *grpc.ServiceDesc, impl any) {
	svc := &service{impl: impl, methods: map[string]grpc.MethodHandler{}}
	for _, m := range desc.Methods {
		svc.methods[m.MethodName] = m.Handler
	}
	s.services[desc.ServiceName] = svc
	short := desc.ServiceName[strings.LastIndex(desc.ServiceName, ".")+1:]
	s.shortNames[short] = desc.ServiceName
}

// Serve accepts connections on l until Close, serving each in its own
// goroutines. It returns ErrServerClosed after Close, or the accept error.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			delete(s.listeners, l)
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			return fmt.Errorf("brpcserver: accept: %w", err)
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		sc := s.newConn(nc)
		s.conns[sc] = struct{}{}
		s.mu.Unlock()
	}
}

// Close stops every listener and connection and waits for the requests in
// progress to end.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for l := range s.listeners {
		l.Close()
	}
	for sc := range s.conns {
		sc.nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *Server) logf(format string, args ...any) {
	if s.logger != nil {
		s.logger.Printf(format, args...)
	}
}

// serverConn is one client connection.
type serverConn struct {
	s      *Server
	nc     net.Conn
	w      *baidustd.Writer
	ctx    context.Context
	cancel context.CancelFunc
	addr   string // the server's address, as bRPC puts it in error texts
}

// newConn starts serving nc; s.mu is held.
func (s *Server) newConn(nc net.Conn) *serverConn {
	ctx, cancel := context.WithCancel(context.Background())
	sc := &serverConn{s: s, nc: nc, ctx: ctx, cancel: cancel, addr: nc.LocalAddr().String()}
	sc.w = baidustd.NewWriter(nc, 0, func(err error) {
		s.logf("brpcserver: %s: %v", nc.RemoteAddr(), err)
		nc.Close()
	})
	s.wg.Add(1)
	go sc.serve()
	return sc
}

// serve reads requests until the connection fails, running each in its own
// goroutine, then waits for them and stops the writer.
func (sc *serverConn) serve() {
	defer sc.s.wg.Done()
	var requests sync.WaitGroup
	d := baidustd.NewDecoder(sc.nc, sc.s.maxBodySize)
	for {
		f := new(baidustd.Frame)
		if err := d.Decode(f); err != nil {
			// A client closing between frames is the normal end.
			if !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
				sc.s.logf("brpcserver: %s: %v", sc.nc.RemoteAddr(), err)
			}
			break
		}
		requests.Go(func() { sc.respond(f) })
	}
	sc.nc.Close()
	sc.cancel()
	requests.Wait()
	sc.w.Close()
	sc.s.mu.Lock()
	delete(sc.s.conns, sc)
	sc.s.mu.Unlock()
}

// respond runs the request f and queues its response.
func (sc *serverConn) respond(f *baidustd.Frame) {
	rsp := response{}
	sc.run(f, &rsp)
	meta := baidustd.Meta{
		Response:      &baidustd.ResponseMeta{ErrorCode: int32(rsp.code)},
		CorrelationID: f.Meta.CorrelationID,
	}
	if rsp.code != 0 {
		meta.Response.ErrorText = fmt.Sprintf("[%s][E%d]%s", sc.addr, int32(rsp.code), rsp.text)
		rsp.payload, rsp.attachment = nil, nil
	}
	// A write error has already closed the connection and been logged.
	_ = sc.w.Write(baidustd.AppendFrame(nil, &meta, rsp.payload, rsp.attachment))
}

// response is what run produces: an error code and text, or a payload and
// attachment.
type response struct {
	code       baidustd.Code
	text       string
	payload    []byte
	attachment []byte
}

func (r *response) fail(code baidustd.Code, format string, args ...any) {
	r.code, r.text = code, fmt.Sprintf(format, args...)
}

// run finds the method f asks for, decodes its payload and calls it.
func (sc *serverConn) run(f *baidustd.Frame, rsp *response) {
	req := f.Meta.Request
	if req == nil {
		rsp.fail(baidustd.EREQUEST, "Missing request meta")
		return
	}
	// As bRPC 1.17: a service name without a package (as jprotobuf sends
	// it) is looked up by its short name; otherwise a service or method
	// that does not exist are both ENOMETHOD, naming service/method.
	name := req.ServiceName
	if !strings.Contains(name, ".") {
		full, ok := sc.s.shortNames[name]
		if !ok {
			rsp.fail(baidustd.ENOSERVICE, "Fail to find service=%s", req.ServiceName)
			return
		}
		name = full
	}
	svc, ok := sc.s.services[name]
	var handler grpc.MethodHandler
	if ok {
		handler, ok = svc.methods[req.MethodName]
	}
	if !ok {
		rsp.fail(baidustd.ENOMETHOD, "Fail to find method=%s/%s", req.ServiceName, req.MethodName)
		return
	}
	payload, err := baidustd.Payload(f, sc.s.maxBodySize)
	if err != nil {
		rsp.fail(baidustd.EREQUEST, "Fail to decompress request, CompressType=%s: %v", f.Meta.CompressType, err)
		return
	}
	ctx := sc.ctx
	if req.TimeoutMs > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.TimeoutMs)*time.Millisecond)
		defer cancel()
	}
	info := &requestInfo{attachment: f.Attachment, logID: req.LogID}
	ctx = context.WithValue(ctx, requestInfoKey{}, info)

	var decodeErr *parseError
	decode := func(m any) error {
		msg := m.(proto.Message)
		if err := proto.Unmarshal(payload, msg); err != nil {
			decodeErr = &parseError{msg: msg.ProtoReflect().Descriptor().FullName(), err: err}
			return decodeErr
		}
		return nil
	}
	out, err := call(handler, svc.impl, ctx, decode)
	switch {
	case decodeErr != nil:
		rsp.fail(baidustd.EREQUEST, "Fail to parse request=%s, ContentType=%s, CompressType=%s, ChecksumType=%s, request_size=%d",
			decodeErr.msg, contentTypeName(f.Meta.ContentType), f.Meta.CompressType, checksumTypeName(f.Meta.ChecksumType), len(f.Payload))
		return
	case err != nil:
		var e *baidustd.Error
		if errors.As(err, &e) {
			rsp.fail(e.Code, "%s", e.Text)
		} else {
			rsp.fail(baidustd.EINTERNAL, "%v", err)
		}
		return
	}
	msg, ok := out.(proto.Message)
	if !ok {
		rsp.fail(baidustd.ERESPONSE, "Handler returned %T, not a protobuf message", out)
		return
	}
	rsp.payload, err = proto.Marshal(msg)
	if err != nil {
		rsp.fail(baidustd.ERESPONSE, "Fail to serialize response: %v", err)
		return
	}
	rsp.attachment = info.rspAttachment
}

// parseError is a request payload that does not parse as msg.
type parseError struct {
	msg protoreflect.FullName
	err error
}

func (e *parseError) Error() string { return fmt.Sprintf("parse %s: %v", e.msg, e.err) }
func (e *parseError) Unwrap() error { return e.err }

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
