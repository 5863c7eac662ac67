package transportbench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/rpc"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/plugink/plugink/runtime"
)

// Echoer is the interface both transports carry.
type Echoer interface {
	Echo(ctx context.Context, msg []byte) ([]byte, error)
}

// envServe, when set to a transport's name, makes the test binary a plugin
// serving that transport (see TestMain).
const envServe = "PLUGINK_TRANSPORTBENCH_SERVE"

const (
	transportNetRPC = "netrpc"
	transportGRPC   = "grpc"
)

var transports = []string{transportNetRPC, transportGRPC}

var handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "PLUGINK_TRANSPORTBENCH_COOKIE",
	MagicCookieValue: "echo-3f1c",
}

// deadlineProbe is the one message the plugin's Echoer does not echo: it
// answers with the deadline of the context it was called with, in
// RFC 3339 with nanoseconds, or "none".
var deadlineProbe = []byte("\x00deadline?")

// echoServer is the plugin's implementation.
type echoServer struct{}

func (echoServer) Echo(ctx context.Context, msg []byte) ([]byte, error) {
	if bytes.Equal(msg, deadlineProbe) {
		d, ok := ctx.Deadline()
		if !ok {
			return []byte("none"), nil
		}
		return []byte(d.Format(time.RFC3339Nano)), nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return msg, nil
}

// quietLogger logs nothing below Error, and to nowhere.
func quietLogger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "transportbench", Level: hclog.Error, Output: io.Discard})
}

// ---- net/rpc ----

// EchoArgs and EchoReply are the gob-encoded request and response.
type EchoArgs struct {
	Msg      []byte
	Deadline time.Time // zero: none
}

type EchoReply struct {
	Msg []byte
}

// netrpcPlugin is go-plugin's plugin.Plugin for Echoer.
type netrpcPlugin struct{ impl Echoer }

func (p *netrpcPlugin) Server(*plugin.MuxBroker) (any, error) {
	return &netrpcServer{impl: p.impl}, nil
}

func (*netrpcPlugin) Client(_ *plugin.MuxBroker, c *rpc.Client) (any, error) {
	return &netrpcClient{client: c}, nil
}

// netrpcServer is registered with net/rpc as "Plugin".
type netrpcServer struct{ impl Echoer }

func (s *netrpcServer) Echo(args EchoArgs, reply *EchoReply) error {
	ctx := context.Background()
	if !args.Deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, args.Deadline)
		defer cancel()
	}
	msg, err := s.impl.Echo(ctx, args.Msg)
	if err != nil {
		return err
	}
	reply.Msg = msg
	return nil
}

type netrpcClient struct{ client *rpc.Client }

func (c *netrpcClient) Echo(ctx context.Context, msg []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	args := EchoArgs{Msg: msg}
	if d, ok := ctx.Deadline(); ok {
		args.Deadline = d
	}
	var reply EchoReply
	if err := c.client.Call("Plugin.Echo", args, &reply); err != nil {
		return nil, err
	}
	return reply.Msg, nil
}

// ---- gRPC, without protoc ----

const grpcEchoMethod = "/plugink.transportbench.Echoer/Echo"

// echoServiceDesc is what protoc-gen-go-grpc would generate for
//
//	service Echoer { rpc Echo(google.protobuf.BytesValue) returns (google.protobuf.BytesValue); }
var echoServiceDesc = grpc.ServiceDesc{
	ServiceName: "plugink.transportbench.Echoer",
	HandlerType: (*Echoer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Echo",
		Handler:    grpcEchoHandler,
	}},
	Metadata: "transportbench",
}

func grpcEchoHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(wrapperspb.BytesValue)
	if err := dec(in); err != nil {
		return nil, err
	}
	call := func(ctx context.Context, req any) (any, error) {
		msg, err := srv.(Echoer).Echo(ctx, req.(*wrapperspb.BytesValue).GetValue())
		if err != nil {
			return nil, err
		}
		return &wrapperspb.BytesValue{Value: msg}, nil
	}
	if interceptor == nil {
		return call(ctx, in)
	}
	return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: grpcEchoMethod}, call)
}

// grpcPlugin is go-plugin's plugin.GRPCPlugin for Echoer.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Echoer
}

func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	s.RegisterService(&echoServiceDesc, p.impl)
	return nil
}

func (*grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &grpcClient{conn: c}, nil
}

type grpcClient struct{ conn *grpc.ClientConn }

func (c *grpcClient) Echo(ctx context.Context, msg []byte) ([]byte, error) {
	out := new(wrapperspb.BytesValue)
	if err := c.conn.Invoke(ctx, grpcEchoMethod, &wrapperspb.BytesValue{Value: msg}, out); err != nil {
		return nil, err
	}
	return out.GetValue(), nil
}

// ---- the plugin process ----

func pluginSet(transport string) plugin.PluginSet {
	if transport == transportGRPC {
		return plugin.PluginSet{"echo": &grpcPlugin{impl: echoServer{}}}
	}
	return plugin.PluginSet{"echo": &netrpcPlugin{impl: echoServer{}}}
}

func protocol(transport string) plugin.Protocol {
	if transport == transportGRPC {
		return plugin.ProtocolGRPC
	}
	return plugin.ProtocolNetRPC
}

// serve makes this process the plugin for transport; it returns when the
// host kills the plugin.
func serve(transport string) {
	cfg := &plugin.ServeConfig{
		HandshakeConfig: handshake,
		Plugins:         pluginSet(transport),
		Logger:          quietLogger(),
	}
	if transport == transportGRPC {
		cfg.GRPCServer = plugin.DefaultGRPCServer
	}
	plugin.Serve(cfg)
}

// started are the plugins the benchmarks share, one per transport; TestMain
// kills them at the end.
var started struct {
	sync.Mutex
	m map[string]*plugin.Client
	e map[string]Echoer
}

// start starts the test binary as the plugin for transport and returns
// the client and the dispensed Echoer. The caller kills the client.
func start(transport string) (*plugin.Client, Echoer, error) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envServe+"="+transport)
	c := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  handshake,
		Plugins:          pluginSet(transport),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{protocol(transport)},
		Logger:           quietLogger(),
	})
	var rc plugin.ClientProtocol
	var err error
	withQuietYamux(transport, func() { rc, err = c.Client() })
	if err != nil {
		c.Kill()
		return nil, nil, fmt.Errorf("%s: start plugin: %w", transport, err)
	}
	if got := c.NegotiatedVersion(); got != int(handshake.ProtocolVersion) {
		c.Kill()
		return nil, nil, fmt.Errorf("%s: negotiated version %d", transport, got)
	}
	raw, err := rc.Dispense("echo")
	if err != nil {
		c.Kill()
		return nil, nil, fmt.Errorf("%s: dispense: %w", transport, err)
	}
	e, ok := raw.(Echoer)
	if !ok {
		c.Kill()
		return nil, nil, fmt.Errorf("%s: dispensed %T, not an Echoer", transport, raw)
	}
	return c, e, nil
}

// devNull is opened once and never closed: yamux loggers keep it.
var devNull = sync.OnceValues(func() (*os.File, error) { return os.OpenFile(os.DevNull, os.O_WRONLY, 0) })

// withQuietYamux calls fn, which makes a net/rpc plugin client, with
// os.Stderr at /dev/null: go-plugin's net/rpc client makes its yamux
// session with yamux's default configuration, whose logger writes to the
// os.Stderr of that moment, and killing the plugin often logs
// "[ERR] yamux: Failed to write header: ... broken pipe" (Kill asks the
// plugin to quit, which it does at once, and then closes its streams) into
// the middle of a benchmark's result line.
func withQuietYamux(transport string, fn func()) {
	if transport != transportNetRPC {
		fn()
		return
	}
	null, err := devNull()
	if err != nil {
		fn()
		return
	}
	stderr := os.Stderr
	os.Stderr = null
	defer func() { os.Stderr = stderr }()
	fn()
}

// shared returns the Echoer of the one plugin of transport the benchmarks
// share, starting it if need be.
func shared(tb testing.TB, transport string) Echoer {
	tb.Helper()
	started.Lock()
	defer started.Unlock()
	if e := started.e[transport]; e != nil {
		return e
	}
	c, e, err := start(transport)
	if err != nil {
		tb.Fatal(err)
	}
	if started.m == nil {
		started.m, started.e = map[string]*plugin.Client{}, map[string]Echoer{}
	}
	started.m[transport], started.e[transport] = c, e
	return e
}

func TestMain(m *testing.M) {
	if t := os.Getenv(envServe); t != "" {
		if t != transportNetRPC && t != transportGRPC {
			fmt.Fprintf(os.Stderr, "%s=%q: want %s or %s\n", envServe, t, transportNetRPC, transportGRPC)
			os.Exit(2)
		}
		serve(t)
		os.Exit(0)
	}
	// The generated plugin's directory is its Spec's, whatever the
	// environment says.
	os.Unsetenv(runtime.PluginDirEnv)
	code := m.Run()
	started.Lock()
	for _, c := range started.m {
		c.Kill()
	}
	started.Unlock()
	removeGluePlugins()
	os.Exit(code)
}

// TestEchoBothTransports: each pair echoes what it is sent, empty to
// 64 KiB, and the caller's context deadline reaches the plugin's
// implementation (gRPC's own, net/rpc's in EchoArgs.Deadline), as does its
// absence.
func TestEchoBothTransports(t *testing.T) {
	for _, transport := range transports {
		t.Run(transport, func(t *testing.T) {
			c, e, err := start(transport)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Kill()
			ctx := context.Background()

			checkEchoSizes(t, e)

			got, err := e.Echo(ctx, deadlineProbe)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "none" {
				t.Errorf("without a deadline, the plugin's context has deadline %s", got)
			}

			want := time.Now().Add(7 * time.Second)
			dctx, cancel := context.WithDeadline(ctx, want)
			defer cancel()
			got, err = e.Echo(dctx, deadlineProbe)
			if err != nil {
				t.Fatal(err)
			}
			seen, err := time.Parse(time.RFC3339Nano, string(got))
			if err != nil {
				t.Fatalf("with deadline %s, the plugin's context has %q", want.Format(time.RFC3339Nano), got)
			}
			// net/rpc carries the time itself; gRPC a timeout, which the
			// server adds to the time it reads it: allow for the latency.
			tolerance := time.Millisecond
			if transport == transportGRPC {
				tolerance = time.Second
			}
			if d := seen.Sub(want); d < -tolerance || d > tolerance {
				t.Errorf("deadline %s reached the plugin as %s (off by %s)", want.Format(time.RFC3339Nano), seen.Format(time.RFC3339Nano), d)
			}

			cctx, cancel2 := context.WithCancel(ctx)
			cancel2()
			if _, err := e.Echo(cctx, []byte("late")); err == nil {
				t.Error("Echo with a cancelled context succeeded")
			} else if !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "context canceled") {
				t.Errorf("Echo with a cancelled context: %v, want context canceled", err)
			}
		})
	}
}

// checkEchoSizes echoes messages of 0 bytes to 64 KiB through e, and
// fails t unless each comes back as sent.
func checkEchoSizes(t *testing.T, e Echoer) {
	t.Helper()
	for _, n := range []int{0, 1, 64, 4 << 10, 64 << 10} {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(i*7 + n)
		}
		got, err := e.Echo(context.Background(), msg)
		if err != nil {
			t.Fatalf("Echo(%d bytes): %v", n, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("Echo(%d bytes) = %d bytes, not the message sent", n, len(got))
		}
	}
}
