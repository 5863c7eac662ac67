// Package echotest serves the echo service (internal/echo) on loopback
// ports for this module's tests and benchmarks: over baidu_std with
// internal/brpcserver, and over gRPC with grpc-go's server. Each server
// stops when the test ends.
//
//	srv := echotest.StartBRPC(t, echotest.Config{})
//	c := brpc.NewClient(client.Address(srv.Addr))
//	...
//	assert.Equal(t, 1, srv.Accepted())
package echotest

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"

	"github.com/plugink/plugink/examples/brpc-client/internal/brpcserver"
	"github.com/plugink/plugink/examples/brpc-client/internal/echo"
	"github.com/plugink/plugink/examples/brpc-client/proto/echopb"
)

// Listener is a net.Listener that counts the connections it accepted.
type Listener struct {
	net.Listener
	accepted atomic.Int32
}

// Listen listens on a free loopback port; the listener is closed when the
// test ends.
func Listen(tb testing.TB) *Listener {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	tb.Cleanup(func() { l.Close() })
	return &Listener{Listener: l}
}

// Accept implements net.Listener.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// Accepted returns how many connections l has accepted.
func (l *Listener) Accepted() int { return int(l.accepted.Load()) }

// Config says how StartBRPC serves.
type Config struct {
	// Listener is where to serve; nil means a free loopback port.
	Listener net.Listener
	// Options are the brpcserver options.
	Options []brpcserver.Option
	// Register, if not nil, registers more services besides echo.
	Register func(*brpcserver.Server)
}

// BRPC is the echo service served over baidu_std.
type BRPC struct {
	// Server is the server; closing it early is allowed.
	Server *brpcserver.Server
	// Listener is the listener it serves on.
	Listener *Listener
	// Addr is the address it listens on.
	Addr string
}

// Accepted returns how many connections the server has accepted.
func (b *BRPC) Accepted() int { return b.Listener.Accepted() }

// StartBRPC serves the echo service over baidu_std as cfg says. When the
// test ends, it closes the server and checks that Serve returned
// brpcserver.ErrServerClosed.
func StartBRPC(tb testing.TB, cfg Config) *BRPC {
	tb.Helper()
	l := &Listener{Listener: cfg.Listener}
	if cfg.Listener == nil {
		l = Listen(tb)
	}
	s := brpcserver.New(cfg.Options...)
	echopb.RegisterEchoServiceServer(s, echo.Service{})
	if cfg.Register != nil {
		cfg.Register(s)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	tb.Cleanup(func() {
		s.Close()
		if err := <-done; !errors.Is(err, brpcserver.ErrServerClosed) {
			tb.Errorf("brpcserver.Serve returned %v, want ErrServerClosed", err)
		}
	})
	return &BRPC{Server: s, Listener: l, Addr: l.Addr().String()}
}

// StartGRPC serves the echo service over gRPC on a free loopback port and
// returns its address.
func StartGRPC(tb testing.TB) string {
	tb.Helper()
	l := Listen(tb)
	s := grpc.NewServer()
	echopb.RegisterEchoServiceServer(s, echo.Service{})
	go s.Serve(l)
	tb.Cleanup(s.Stop)
	return l.Addr().String()
}

// Gate is a service, "test.Gate", whose Hold method answers its request's
// message once the gate is open, or fails when the call's context ends:
// for tests that need calls in flight on a server. Its Stall method is
// Hold, except that the request's deadline does not end it: the server
// never answers ERPCTIMEDOUT, so that a client's call to it can end only
// by the client's own deadline (or cancellation), never by an answer that
// races it. Stall still ends when its connection closes before the
// deadline, but not after: a test that stalls a call past its deadline
// must open the gate before the server closes (the gate's own cleanup
// runs after the server's when the gate was made first).
type Gate struct {
	entered chan struct{}
	open    chan struct{}
	once    sync.Once
}

// NewGate returns a closed gate. It opens when the test ends, if not
// before, so that a server waiting for its handlers can stop.
func NewGate(tb testing.TB) *Gate {
	g := &Gate{entered: make(chan struct{}, 1024), open: make(chan struct{})}
	tb.Cleanup(g.Open)
	return g
}

// Register registers the service on s; pass it as Config.Register.
func (g *Gate) Register(s *brpcserver.Server) {
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: "test.Gate",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{
			{MethodName: "Hold", Handler: g.handler(false)},
			{MethodName: "Stall", Handler: g.handler(true)},
		},
	}, nil)
}

// handler returns Hold's handler, or with pastDeadline Stall's.
func (g *Gate) handler(pastDeadline bool) grpc.MethodHandler {
	return func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		var req echopb.EchoRequest
		if err := dec(&req); err != nil {
			return nil, err
		}
		g.entered <- struct{}{}
		select {
		case <-g.open:
			return &echopb.EchoResponse{Message: req.Message}, nil
		case <-ctx.Done():
			if !pastDeadline || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, ctx.Err()
			}
		}
		<-g.open
		return &echopb.EchoResponse{Message: req.Message}, nil
	}
}

// Entered receives once for each call that reached Hold or Stall.
func (g *Gate) Entered() <-chan struct{} { return g.entered }

// Open lets every held call, and every later one, through.
func (g *Gate) Open() { g.once.Do(func() { close(g.open) }) }
