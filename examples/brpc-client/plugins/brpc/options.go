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
	stallTimeout time.Duration
}

// DefaultStallTimeout is how long a connection may go without a byte in
// the middle of a response frame before the client breaks it.
const DefaultStallTimeout = 10 * time.Second

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

// MaxBodySize sets the largest frame body the client sends or accepts, in
// bytes (default baidustd.DefaultMaxBodySize, 64 MiB, as bRPC's
// max_body_size). A larger request fails with ErrRequestTooLarge before
// anything is sent; a larger response breaks the connection, since the
// stream cannot be resynchronised after a frame it refuses to read.
func MaxBodySize(n int) client.Option {
	return func(o *client.Options) { pluginOptions(o).maxBodySize = n }
}

// StallTimeout sets how long the client waits for the next byte of a
// response frame that has begun to arrive (default DefaultStallTimeout; a
// negative d waits for ever). A server that stops in the middle of a frame
// without closing the connection would hold back every later answer on it:
// after d the client breaks the connection, the calls in flight fail with
// an error wrapping ErrConnection and ErrStalled, and the next call dials
// again. Waiting between frames is never limited by it.
func StallTimeout(d time.Duration) client.Option {
	return func(o *client.Options) { pluginOptions(o).stallTimeout = d }
}

// MaxQueued sets how many bytes of requests may wait to be written to the
// connection (default baidustd.DefaultMaxQueued, 64 MiB). A call that
// would exceed it, as when the server stops reading, fails at once with an
// error wrapping baidustd.ErrOvercrowded; the connection stays up.
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
