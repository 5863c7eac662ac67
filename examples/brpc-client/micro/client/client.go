package client

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/plugink/plugink/runtime"
)

// Client calls methods of remote services. Implementations are safe for
// concurrent use.
type Client interface {
	// Call invokes method of service (the full protobuf service name, such
	// as "example.EchoService") with req and decodes the answer into rsp.
	// It returns when the answer arrives, the call fails, or ctx is done.
	Call(ctx context.Context, service, method string, req, rsp proto.Message, opts ...CallOption) error
	// Close releases the client's connections. Calls after Close fail.
	Close() error
	// String names the implementation, e.g. "grpc".
	String() string
}

// DefaultClients maps implementation names to constructors. It is the
// default map of the kind "client": plugins are registered into it through
// [Kind] (or runtime.Init), never by writing to it directly.
var DefaultClients = map[string]func(...Option) Client{
	"grpc": NewGRPCClient,
}

// Kind is the plugink kind "client", bound to [DefaultClients]. Its
// Select method picks an implementation by --client flag or MICRO_CLIENT.
var Kind = runtime.MustDeclare("client", DefaultClients)

// Options configure a Client.
type Options struct {
	// Address is the server's host:port.
	Address string
	// Timeout bounds each call whose context has no deadline; 0 means no
	// bound. The default is [DefaultTimeout].
	Timeout time.Duration
	// DialTimeout bounds connecting to the server. The default is
	// [DefaultDialTimeout].
	DialTimeout time.Duration
	// Context carries options of one implementation; its package offers
	// Option functions that set them.
	Context context.Context
}

// Defaults of [Options].
const (
	DefaultTimeout     = 5 * time.Second
	DefaultDialTimeout = 5 * time.Second
)

// Option sets a field of [Options].
type Option func(*Options)

// NewOptions returns the options opts describe, starting from the defaults.
func NewOptions(opts ...Option) Options {
	o := Options{Timeout: DefaultTimeout, DialTimeout: DefaultDialTimeout, Context: context.Background()}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Address sets the server's host:port.
func Address(addr string) Option { return func(o *Options) { o.Address = addr } }

// Timeout sets the bound on calls whose context has no deadline.
func Timeout(d time.Duration) Option { return func(o *Options) { o.Timeout = d } }

// DialTimeout sets the bound on connecting to the server.
func DialTimeout(d time.Duration) Option { return func(o *Options) { o.DialTimeout = d } }

// CallOptions configure one call.
type CallOptions struct {
	// Timeout, when positive, bounds this call (on top of its context's
	// deadline); it overrides Options.Timeout.
	Timeout time.Duration
	// Context carries call options of one implementation.
	Context context.Context
}

// CallOption sets a field of [CallOptions].
type CallOption func(*CallOptions)

// NewCallOptions returns the call options opts describe.
func NewCallOptions(opts ...CallOption) CallOptions {
	o := CallOptions{Context: context.Background()}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// WithTimeout bounds one call.
func WithTimeout(d time.Duration) CallOption { return func(o *CallOptions) { o.Timeout = d } }

// CallDeadline returns the deadline of a call made with ctx: the call
// option's timeout when set, else the client's when ctx has no deadline
// (both counted from now, and never later than ctx's own deadline), else
// ctx's deadline, if it has one. Implementations use it, or CallContext,
// so that both timeouts mean the same in every client.
func CallDeadline(ctx context.Context, o *Options, co *CallOptions) (time.Time, bool) {
	own, has := ctx.Deadline()
	var timeout time.Duration
	switch {
	case co.Timeout > 0:
		timeout = co.Timeout
	case o.Timeout > 0 && !has:
		timeout = o.Timeout
	default:
		return own, has
	}
	d := time.Now().Add(timeout)
	if has && own.Before(d) {
		return own, true
	}
	return d, true
}

// CallContext returns ctx bounded by the call's deadline (see
// CallDeadline).
func CallContext(ctx context.Context, o *Options, co *CallOptions) (context.Context, context.CancelFunc) {
	d, ok := CallDeadline(ctx, o, co)
	if own, has := ctx.Deadline(); !ok || has && own.Equal(d) {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, d)
}
