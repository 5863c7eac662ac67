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
//
// A peer cannot make the server exit or hold memory its bytes did not pay
// for: a temporary accept error (out of file descriptors) is retried after
// a pause; each request frame must arrive whole within FrameTimeout; the
// payloads being decompressed hold at most ConnDecompressBudget bytes per
// connection and DecompressBudget bytes in all, and a request past that is
// answered EOVERCROWDED; so is a request whose answer does not fit the
// connection's queue of MaxQueued bytes (a peer that does not read). A
// peer that shuts down its write side gets the answers to every request it
// sent before the server closes the connection.
package brpcserver

import (
	"errors"
	"fmt"
	"log"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
)

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("brpcserver: server closed")

// Defaults of the options that bound what a peer can cost.
const (
	// DefaultFrameTimeout is how long a request frame may take to arrive,
	// from its first byte to its last.
	DefaultFrameTimeout = 10 * time.Second
	// DefaultDecompressBudget is how many bytes the payloads being
	// decompressed may hold at once, across the server.
	DefaultDecompressBudget = 2 * baidustd.DefaultBudget
)

// Server serves registered services over baidu_std.
type Server struct {
	maxBodySize  int
	maxQueued    int
	frameTimeout time.Duration
	budget       *baidustd.Budget
	budgetSize   int
	connBudget   int
	logger       *log.Logger
	logs         rateLimiter
	services     map[string]*service
	shortNames   map[string]string // a service's name without its package -> its full name

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

// MaxBodySize sets the largest request body the server reads, and the
// largest decompressed request payload (0 or negative:
// baidustd.DefaultMaxBodySize; math.MaxInt: no limit); a larger body
// closes the connection.
func MaxBodySize(n int) Option { return func(s *Server) { s.maxBodySize = n } }

// MaxQueued sets how many bytes of answers may wait to be written to one
// connection (0 or negative: baidustd.DefaultMaxQueued, 64 MiB;
// math.MaxInt: no limit). An answer that does not fit, as when the peer
// does not read, is replaced by a short EOVERCROWDED error, which has
// baidustd.Reserve more bytes of room; when even that is full, the
// connection is closed.
func MaxQueued(n int) Option { return func(s *Server) { s.maxQueued = n } }

// FrameTimeout sets how long a request frame may take to arrive, from its
// first byte to its last (0: DefaultFrameTimeout; negative: no limit);
// a peer that sends half a frame, or a byte at a time, is disconnected
// after d. It also bounds the time a closing connection spends writing
// its last answers. An idle connection is never timed out.
func FrameTimeout(d time.Duration) Option { return func(s *Server) { s.frameTimeout = d } }

// DecompressBudget sets how many bytes the request payloads being
// decompressed may hold at once across the server (0 or negative:
// DefaultDecompressBudget, 256 MiB; math.MaxInt: no bound). A payload is
// held until its request is answered; one that does not fit is answered
// EOVERCROWDED at once.
func DecompressBudget(n int) Option { return func(s *Server) { s.budgetSize = n } }

// ConnDecompressBudget is DecompressBudget for each connection, within the
// server's (0 or negative: baidustd.DefaultBudget, 128 MiB), so that one
// peer cannot take the whole server's budget.
func ConnDecompressBudget(n int) Option { return func(s *Server) { s.connBudget = n } }

// ErrorLog sets where the server reports broken connections, refused
// accepts and overcrowded connections (default: nowhere). Reports of the
// same kind are rate-limited to one a second.
func ErrorLog(l *log.Logger) Option { return func(s *Server) { s.logger = l } }

// New returns a server with no services.
func New(opts ...Option) *Server {
	s := &Server{
		services:   map[string]*service{},
		shortNames: map[string]string{},
		listeners:  map[net.Listener]struct{}{},
		conns:      map[*serverConn]struct{}{},
	}
	for _, o := range opts {
		o(s)
	}
	s.maxBodySize = baidustd.BodyLimit(s.maxBodySize)
	switch {
	case s.frameTimeout == 0:
		s.frameTimeout = DefaultFrameTimeout
	case s.frameTimeout < 0:
		s.frameTimeout = 0
	}
	if s.budgetSize <= 0 {
		s.budgetSize = DefaultDecompressBudget
	}
	s.budget = baidustd.NewBudget(s.budgetSize, nil)
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
// goroutines. A temporary accept error, such as running out of file
// descriptors, is logged and retried after a pause (5 ms, doubling up to
// 1 s), as net/http does. Serve returns ErrServerClosed after Close, or
// an accept error that is not temporary.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	var pause time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if pause, err = s.acceptFailed(l, err, pause); err != nil {
				return err
			}
			time.Sleep(pause)
			continue
		}
		pause = 0
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

// acceptFailed decides what Serve does after l's Accept failed with err:
// pause longer than last and go on, or return the error.
func (s *Server) acceptFailed(l net.Listener, err error, last time.Duration) (time.Duration, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if !closed && temporary(err) {
		pause := min(max(2*last, 5*time.Millisecond), time.Second)
		s.logEvery("accept", "brpcserver: accept: %v; retrying in %s", err, pause)
		return pause, nil
	}
	s.mu.Lock()
	delete(s.listeners, l)
	s.mu.Unlock()
	if closed {
		return 0, ErrServerClosed
	}
	return 0, fmt.Errorf("brpcserver: accept: %w", err)
}

// temporary reports whether an accept error may pass: the process or the
// system is out of descriptors or buffers, or a connection was aborted
// before it was accepted.
func temporary(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.EAGAIN, syscall.EINTR, syscall.EPROTO} {
		if errors.Is(err, errno) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
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
		// Close the connection before ending its requests' context: a
		// handler that returns because of it must not get its "context
		// canceled" answer out to the peer, which would take it for the
		// answer to its call rather than retry it on a new connection.
		sc.nc.Close()
		sc.cancel()
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

// logEvery logs at most one report of each kind a second, saying how many
// it left out since the last.
func (s *Server) logEvery(kind, format string, args ...any) {
	if s.logger == nil {
		return
	}
	if skipped, ok := s.logs.allow(kind, time.Now()); ok {
		if skipped > 0 {
			format += fmt.Sprintf(" (and %d more like it)", skipped)
		}
		s.logger.Printf(format, args...)
	}
}

// rateLimiter lets one event of each kind a second through.
type rateLimiter struct {
	mu    sync.Mutex
	kinds map[string]*rate
}

type rate struct {
	last    time.Time
	skipped int
}

// allow reports whether an event of kind at now may be logged, and how
// many were refused since the last one allowed.
func (r *rateLimiter) allow(kind string, now time.Time) (skipped int, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.kinds == nil {
		r.kinds = map[string]*rate{}
	}
	k := r.kinds[kind]
	if k == nil {
		k = &rate{}
		r.kinds[kind] = k
	}
	if now.Sub(k.last) < time.Second {
		k.skipped++
		return 0, false
	}
	skipped, k.last, k.skipped = k.skipped, now, 0
	return skipped, true
}
