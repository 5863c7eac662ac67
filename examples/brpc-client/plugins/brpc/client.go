package brpc

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/plugink/plugink/examples/brpc-client/micro/client"
	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
)

// Error is an error a bRPC server answered with; its Code is one of the
// baidustd codes, such as baidustd.ENOMETHOD. Test for it with errors.As.
type Error = baidustd.Error

// Errors a call may wrap; test for them with errors.Is.
var (
	// ErrConnection wraps the cause of a broken connection: every call in
	// flight on it fails with it. The next call dials again.
	ErrConnection = errors.New("connection broken")
	// ErrClosed is returned by calls after Close.
	ErrClosed = errors.New("client closed")
	// ErrStalled is the cause of a connection broken because the server
	// stopped sending in the middle of a frame (see StallTimeout).
	ErrStalled = errors.New("server stalled in the middle of a frame")
	// ErrRequestTooLarge is returned, before anything is sent, for a
	// request whose frame body exceeds MaxBodySize: a bRPC server would
	// drop the connection, failing every call on it.
	ErrRequestTooLarge = errors.New("request too large")
)

// brpcClient is the Client NewClient returns.
type brpcClient struct {
	opts   client.Options
	plugin options
	dialer net.Dialer
	nextID atomic.Int64

	mu      sync.Mutex
	cur     *conn
	dialing *dialCall
	closed  bool
	conns   sync.WaitGroup // one per conn whose goroutines run
}

// dialCall is a dial in progress, which concurrent calls wait for.
type dialCall struct {
	done chan struct{}
	cn   *conn
	err  error
}

// NewClient returns a client speaking baidu_std to the server at
// client.Address. It is the constructor the plugin registers as "brpc".
func NewClient(opts ...client.Option) client.Client {
	o := client.NewOptions(opts...)
	c := &brpcClient{opts: o, plugin: *pluginOptions(&o)}
	if c.plugin.maxBodySize <= 0 {
		c.plugin.maxBodySize = baidustd.DefaultMaxBodySize
	}
	switch {
	case c.plugin.stallTimeout == 0:
		c.plugin.stallTimeout = DefaultStallTimeout
	case c.plugin.stallTimeout < 0:
		c.plugin.stallTimeout = 0
	}
	return c
}

// String implements client.Client.
func (c *brpcClient) String() string { return "brpc" }

// Close fails the calls in flight with ErrClosed, closes the connection and
// waits for its goroutines to end.
func (c *brpcClient) Close() error {
	c.mu.Lock()
	c.closed = true
	cn := c.cur
	c.cur = nil
	c.mu.Unlock()
	if cn != nil {
		cn.fail(ErrClosed)
	}
	c.conns.Wait()
	return nil
}

// Call implements client.Client.
func (c *brpcClient) Call(ctx context.Context, service, method string, req, rsp proto.Message, opts ...client.CallOption) error {
	if err := c.call(ctx, service, method, req, rsp, opts); err != nil {
		return fmt.Errorf("brpc: call %s.%s on %s: %w", service, method, c.opts.Address, err)
	}
	return nil
}

func (c *brpcClient) call(ctx context.Context, service, method string, req, rsp proto.Message, opts []client.CallOption) error {
	co := client.NewCallOptions(opts...)
	var po callOptions
	if len(opts) > 0 {
		if v, ok := co.Context.Value(callOptionsKey{}).(*callOptions); ok {
			po = *v
		}
	}
	ctx, cancel := client.CallContext(ctx, &c.opts, &co)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return err
	}
	meta := baidustd.Meta{
		Request:       &baidustd.RequestMeta{ServiceName: service, MethodName: method, LogID: po.logID},
		CompressType:  c.plugin.compress,
		CorrelationID: c.nextID.Add(1),
	}
	if deadline, ok := ctx.Deadline(); ok {
		meta.Request.TimeoutMs = timeoutMs(time.Until(deadline))
	}
	cn, cl, err := c.send(ctx, &meta, req, po.attachment)
	if err != nil {
		return err
	}
	select {
	case <-cl.done:
	case <-ctx.Done():
		if cn.forget(meta.CorrelationID) {
			putCall(cl)
		}
		return fmt.Errorf("waiting for the response: %w", context.Cause(ctx))
	}
	defer putCall(cl)
	if cl.err != nil {
		return cl.err
	}
	payload, err := baidustd.DecodeResponse(&cl.frame, c.plugin.maxBodySize)
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(payload, rsp); err != nil {
		return fmt.Errorf("decode %s: %w", rsp.ProtoReflect().Descriptor().FullName(), err)
	}
	if po.rspAttachment != nil {
		*po.rspAttachment = cl.frame.Attachment
	}
	return nil
}

// timeoutMs rounds d up to whole milliseconds for the request's timeout_ms.
func timeoutMs(d time.Duration) int32 {
	ms := (d + time.Millisecond - 1) / time.Millisecond
	switch {
	case ms < 1:
		return 1
	case ms > math.MaxInt32:
		return math.MaxInt32
	}
	return int32(ms)
}

// buffers are the scratch space of one request, pooled.
type buffers struct{ payload, compressed, frame []byte }

var bufferPool = sync.Pool{New: func() any { return new(buffers) }}

// send encodes the request, registers the call on the live connection and
// queues the frame. A connection that broke before the call was registered
// is replaced once, since nothing was sent on it.
func (c *brpcClient) send(ctx context.Context, meta *baidustd.Meta, req proto.Message, attachment []byte) (*conn, *call, error) {
	b := bufferPool.Get().(*buffers)
	defer bufferPool.Put(b)
	var err error
	b.payload, err = proto.MarshalOptions{}.MarshalAppend(b.payload[:0], req)
	if err != nil {
		return nil, nil, fmt.Errorf("encode %s: %w", req.ProtoReflect().Descriptor().FullName(), err)
	}
	payload := b.payload
	if meta.CompressType != baidustd.CompressNone {
		b.compressed, err = baidustd.AppendCompressed(b.compressed[:0], meta.CompressType, payload)
		if err != nil {
			return nil, nil, err
		}
		payload = b.compressed
	}
	b.frame = baidustd.AppendFrame(b.frame[:0], meta, payload, attachment)
	if body := len(b.frame) - baidustd.HeaderSize; body > c.plugin.maxBodySize {
		return nil, nil, fmt.Errorf("%w: body of %d bytes exceeds the limit of %d (brpc.MaxBodySize; a bRPC server's max_body_size)", ErrRequestTooLarge, body, c.plugin.maxBodySize)
	}
	for attempt := 0; ; attempt++ {
		cn, err := c.connect(ctx)
		if err != nil {
			return nil, nil, err
		}
		cl, err := cn.register(meta.CorrelationID)
		if err != nil {
			if attempt == 0 {
				continue
			}
			return nil, nil, err
		}
		if err := cn.w.Write(b.frame); err != nil {
			if cn.forget(meta.CorrelationID) {
				putCall(cl)
			}
			if errors.Is(err, baidustd.ErrOvercrowded) {
				return nil, nil, err
			}
			return nil, nil, fmt.Errorf("%w: %w", ErrConnection, err)
		}
		return cn, cl, nil
	}
}

// connect returns the live connection, dialing one if there is none. Calls
// that arrive during a dial wait for it.
func (c *brpcClient) connect(ctx context.Context) (*conn, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		if cn := c.cur; cn != nil && !cn.broken.Load() {
			c.mu.Unlock()
			return cn, nil
		}
		d, mine := c.dialing, false
		if d == nil {
			d, mine = &dialCall{done: make(chan struct{})}, true
			c.dialing = d
		}
		c.mu.Unlock()
		if mine {
			c.dial(ctx, d)
		} else {
			select {
			case <-d.done:
			case <-ctx.Done():
				return nil, fmt.Errorf("waiting for the connection: %w", context.Cause(ctx))
			}
		}
		if d.err == nil {
			return d.cn, nil
		}
		// Another call's dial gave up because its own context ended: dial
		// again for this one.
		if !mine && ctx.Err() == nil && (errors.Is(d.err, context.Canceled) || errors.Is(d.err, context.DeadlineExceeded)) {
			continue
		}
		return nil, d.err
	}
}

func (c *brpcClient) dial(ctx context.Context, d *dialCall) {
	if c.opts.DialTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.DialTimeout)
		defer cancel()
	}
	var nc net.Conn
	var err error
	if c.opts.Address == "" {
		err = client.ErrNoAddress
	} else {
		nc, err = c.dialer.DialContext(ctx, "tcp", c.opts.Address)
	}
	c.mu.Lock()
	c.dialing = nil
	switch {
	case err != nil:
	case c.closed:
		nc.Close()
		err = ErrClosed
	default:
		c.conns.Add(1)
		d.cn = newConn(nc, &c.plugin, c.conns.Done)
		c.cur = d.cn
	}
	d.err = err
	c.mu.Unlock()
	close(d.done)
}
