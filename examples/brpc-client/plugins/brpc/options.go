package brpc

import (
	"context"
	"time"

	"github.com/plugink/plugink/examples/brpc-client/micro/client"
	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
)

// options are the client options of this plugin, kept in
// client.Options.Context.
type options struct {
	compress     baidustd.CompressType
	maxBodySize  int
	maxQueued    int
	budget       int
	frameTimeout time.Duration
	maxRetry     *int
}

// DefaultFrameTimeout is how long a response frame may take to arrive,
// from its first byte to its last, before the client breaks the
// connection.
const DefaultFrameTimeout = 10 * time.Second

// DefaultMaxRetry is how many times a call is retried after its
// connection broke, as bRPC's max_retry.
const DefaultMaxRetry = 3

// callOptions are the call options of this plugin, kept in
// client.CallOptions.Context.
type callOptions struct {
	logID         int64
	attachment    []byte
	rspAttachment *[]byte
}

type optionsKey struct{}

type callOptionsKey struct{}

// pluginOptions returns this plugin's options in o, adding them if absent,
// so that every Option of this package edits one value.
func pluginOptions(o *client.Options) *options {
	if o.Context == nil {
		o.Context = context.Background()
	}
	if v, ok := o.Context.Value(optionsKey{}).(*options); ok {
		return v
	}
	v := &options{}
	o.Context = context.WithValue(o.Context, optionsKey{}, v)
	return v
}

func pluginCallOptions(o *client.CallOptions) *callOptions {
	if o.Context == nil {
		o.Context = context.Background()
	}
	if v, ok := o.Context.Value(callOptionsKey{}).(*callOptions); ok {
		return v
	}
	v := &callOptions{}
	o.Context = context.WithValue(o.Context, callOptionsKey{}, v)
	return v
}

// Compress makes the client compress every request payload with t
// (baidustd.CompressGzip or baidustd.CompressZlib). Attachments are never
// compressed. Responses are decompressed whatever their type, except snappy.
func Compress(t baidustd.CompressType) client.Option {
	return func(o *client.Options) { pluginOptions(o).compress = t }
}

// MaxBodySize sets the largest frame body the client sends or accepts, and
// the largest decompressed response payload, in bytes (0 or negative:
// baidustd.DefaultMaxBodySize, 64 MiB, as bRPC's max_body_size;
// math.MaxInt: no limit). A larger request fails with ErrRequestTooLarge
// before anything is sent; a larger response breaks the connection, since
// the stream cannot be resynchronised after a frame it refuses to read; a
// response payload that expands past it fails its call with
// baidustd.ErrTooLarge.
func MaxBodySize(n int) client.Option {
	return func(o *client.Options) { pluginOptions(o).maxBodySize = n }
}

// FrameTimeout sets how long a response frame may take to arrive, from its
// first byte to its last (0: DefaultFrameTimeout; negative: no limit). A
// server that stops in the middle of a frame, or sends it a byte at a
// time, would hold back every later answer on the connection: once d has
// passed, the client breaks the connection, the calls in flight fail (and
// are retried, see MaxRetry) with an error wrapping ErrConnection and
// baidustd.ErrFrameTimeout, and the next call dials again. An idle
// connection, or a slow handler, is never timed out: the clock starts at a
// frame's first byte.
func FrameTimeout(d time.Duration) client.Option {
	return func(o *client.Options) { pluginOptions(o).frameTimeout = d }
}

// DecompressBudget sets how many bytes the response payloads the client is
// decompressing may hold at once, across all its calls (0 or negative:
// baidustd.DefaultBudget, 128 MiB; math.MaxInt: no bound). A response
// whose payload would take more than is left fails its call with an error
// wrapping baidustd.ErrOvercrowded (bRPC's EOVERCROWDED): a server
// answering with gzip bombs costs the client at most this much.
func DecompressBudget(n int) client.Option {
	return func(o *client.Options) { pluginOptions(o).budget = n }
}

// MaxRetry sets how many times a call is retried when its connection
// breaks, or cannot be made, before its answer arrives (default
// DefaultMaxRetry, 3, as bRPC's max_retry; 0 or negative: never). Each
// retry goes out on a new connection, within the call's deadline; a retry
// after a failed dial first waits a little (10 ms, doubling). Errors the
// server answers with, and a call's own deadline, are never retried. As
// with bRPC, a request may then reach the server more than once.
func MaxRetry(n int) client.Option {
	return func(o *client.Options) { pluginOptions(o).maxRetry = &n }
}

// MaxQueued sets how many bytes of requests may wait to be written to the
// connection (0 or negative: baidustd.DefaultMaxQueued, 64 MiB;
// math.MaxInt: no limit). A call that would exceed it, as when the server
// stops reading, fails at once with an error wrapping
// baidustd.ErrOvercrowded; the connection stays up.
func MaxQueued(n int) client.Option {
	return func(o *client.Options) { pluginOptions(o).maxQueued = n }
}

// LogID sends id as the request's log_id, which bRPC servers log.
func LogID(id int64) client.CallOption {
	return func(o *client.CallOptions) { pluginCallOptions(o).logID = id }
}

// Attachment sends b, uncompressed, after the request payload.
func Attachment(b []byte) client.CallOption {
	return func(o *client.CallOptions) { pluginCallOptions(o).attachment = b }
}

// ResponseAttachment stores the response's attachment in *dst when the
// call succeeds.
func ResponseAttachment(dst *[]byte) client.CallOption {
	return func(o *client.CallOptions) { pluginCallOptions(o).rspAttachment = dst }
}
