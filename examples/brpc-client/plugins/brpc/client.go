package brpc

import (
	"cmp"
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
	// ErrRequestTooLarge is returned, before anything is sent, for a
	// request whose frame body exceeds MaxBodySize: a bRPC server would
	// drop the connection, failing every call on it.
	ErrRequestTooLarge = errors.New("request too large")
)

// brpcClient is the Client NewClient returns.
type brpcClient struct {
	opts     client.Options
	plugin   options
	maxRetry int
	budget   *baidustd.Budget
	dialer   net.Dialer
	nextID   atomic.Int64

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
	c := &brpcClient{opts: o, plugin: *pluginOptions(&o), maxRetry: DefaultMaxRetry}
	c.plugin.maxBodySize = baidustd.BodyLimit(c.plugin.maxBodySize)
	c.budget = baidustd.NewBudget(c.plugin.budget, nil)
	if r := c.plugin.maxRetry; r != nil {
		c.maxRetry = max(*r, 0)
	}
	switch {
	case c.plugin.frameTimeout == 0:
		c.plugin.frameTimeout = DefaultFrameTimeout
	case c.plugin.frameTimeout < 0:
		c.plugin.frameTimeout = 0
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
	var co client.CallOptions
	var po callOptions
	if len(opts) > 0 {
		co = client.NewCallOptions(opts...)
		if v, ok := co.Context.Value(callOptionsKey{}).(*callOptions); ok {
			po = *v
		}
	}
	at, hasDeadline := client.CallDeadline(ctx, &c.opts, &co)
	b := newBounds(ctx, at, hasDeadline)
	defer b.stop()
	if err := b.err(); err != nil {
		return err
	}
	meta := baidustd.Meta{
		Request:       &baidustd.RequestMeta{ServiceName: service, MethodName: method, LogID: po.logID},
		CompressType:  c.plugin.compress,
		CorrelationID: c.nextID.Add(1),
	}
	if hasDeadline {
		meta.Request.TimeoutMs = timeoutMs(time.Until(at))
	}
	buf := bufferPool.Get().(*buffers)
	defer bufferPool.Put(buf)
	if err := c.encode(buf, &meta, req, po.attachment); err != nil {
		return err
	}
	var prev error // why the previous attempt failed
	for retry := 0; ; retry++ {
		err := c.attempt(&b, buf.frame, meta.CorrelationID, rsp, po.rspAttachment)
		if err == nil {
			return nil
		}
		if berr := b.err(); berr != nil {
			// The call's time is up: say so, and why it was retrying.
			var dial *dialError
			switch {
			case prev != nil && errors.As(err, &dial) && errors.Is(err, berr):
				// It ran out while this retry dialed.
				err = fmt.Errorf("%w (retrying: %w)", prev, berr)
			case retry < c.maxRetry && retryable(err) && !errors.Is(err, berr):
				err = fmt.Errorf("%w (no time left to retry: %w)", err, berr)
			}
		} else if retry < c.maxRetry && retryable(err) {
			if err := c.backoff(&b, err, retry); err != nil {
				return err
			}
			prev = err
			continue
		}
		if retry > 0 {
			err = fmt.Errorf("%w (after %d retries)", err, retry)
		}
		return err
	}
}

// retryable reports whether a call that failed with err may be sent again:
// when its connection broke or could not be made, as bRPC retries.
func retryable(err error) bool {
	var dial *dialError
	return errors.Is(err, ErrConnection) || errors.As(err, &dial)
}

// backoff waits before retry number retry+1 when the last attempt could
// not connect (10 ms, doubling), so that a server that is restarting has
// time to listen again; a broken connection is retried at once.
func (c *brpcClient) backoff(b *bounds, last error, retry int) error {
	var dial *dialError
	if !errors.As(last, &dial) {
		return nil
	}
	t := time.NewTimer(10 * time.Millisecond << retry)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-b.ctx.Done():
	case <-b.expired():
	}
	return fmt.Errorf("%w (waiting to retry: %w)", last, b.err())
}

// attempt sends the encoded request frame, with correlation id id, on the
// live connection and decodes the answer into rsp.
func (c *brpcClient) attempt(b *bounds, frame []byte, id int64, rsp proto.Message, rspAttachment *[]byte) error {
	cn, cl, lead, err := c.send(b, frame, id)
	if err != nil {
		return err
	}
	if !cn.wait(cl, b, lead) {
		if cn.forget(id) {
			putCall(cl)
		}
		return fmt.Errorf("waiting for the response: %w", cmp.Or(b.err(), context.DeadlineExceeded))
	}
	defer putCall(cl)
	if cl.err != nil {
		return cl.err
	}
	payload, lease, err := baidustd.DecodeResponse(&cl.frame, c.plugin.maxBodySize, c.budget)
	if err != nil {
		return err
	}
	defer lease.Release()
	if err := proto.Unmarshal(payload, rsp); err != nil {
		return fmt.Errorf("decode %s: %w", rsp.ProtoReflect().Descriptor().FullName(), err)
	}
	if rspAttachment != nil {
		*rspAttachment = cl.frame.Attachment
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

// encode writes the request's frame into b.frame.
func (c *brpcClient) encode(b *buffers, meta *baidustd.Meta, req proto.Message, attachment []byte) error {
	var err error
	b.payload, err = proto.MarshalOptions{}.MarshalAppend(b.payload[:0], req)
	if err != nil {
		return fmt.Errorf("encode %s: %w", req.ProtoReflect().Descriptor().FullName(), err)
	}
	payload := b.payload
	if meta.CompressType != baidustd.CompressNone {
		b.compressed, err = baidustd.AppendCompressed(b.compressed[:0], meta.CompressType, payload)
		if err != nil {
			return err
		}
		payload = b.compressed
	}
	b.frame = baidustd.AppendFrame(b.frame[:0], meta, payload, attachment)
	if body := len(b.frame) - baidustd.HeaderSize; body > c.plugin.maxBodySize {
		return fmt.Errorf("%w: body of %d bytes exceeds the limit of %d (brpc.MaxBodySize; a bRPC server's max_body_size)", ErrRequestTooLarge, body, c.plugin.maxBodySize)
	}
	return nil
}

// send registers the call on the live connection and queues its frame. A
// connection that broke before the call was registered is replaced once,
// since nothing was sent on it. It reports whether the call took the
// connection's turn to read (see conn.register).
func (c *brpcClient) send(b *bounds, frame []byte, id int64) (*conn, *call, bool, error) {
	for attempt := 0; ; attempt++ {
		cn, err := c.connect(b)
		if err != nil {
			return nil, nil, false, err
		}
		cl, lead, err := cn.register(id)
		if err != nil {
			if attempt == 0 {
				continue
			}
			return nil, nil, false, err
		}
		if err := cn.w.WriteNow(frame); err != nil {
			if cn.forget(id) {
				putCall(cl)
			}
			if lead {
				cn.passTurn()
			}
			if errors.Is(err, baidustd.ErrOvercrowded) {
				return nil, nil, false, err
			}
			return nil, nil, false, fmt.Errorf("%w: %w", ErrConnection, err)
		}
		return cn, cl, lead, nil
	}
}

// connect returns the live connection, dialing one if there is none. Calls
// that arrive during a dial wait for it.
func (c *brpcClient) connect(b *bounds) (*conn, error) {
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
			c.dial(b, d)
		} else {
			select {
			case <-d.done:
			case <-b.ctx.Done():
			case <-b.expired():
			}
			if err := b.err(); err != nil {
				return nil, fmt.Errorf("waiting for the connection: %w", err)
			}
		}
		if d.err == nil {
			return d.cn, nil
		}
		// Another call's dial gave up because its own context ended: dial
		// again for this one.
		if !mine && (errors.Is(d.err, context.Canceled) || errors.Is(d.err, context.DeadlineExceeded)) {
			continue
		}
		return nil, d.err
	}
}

func (c *brpcClient) dial(b *bounds, d *dialCall) {
	ctx, cancel := b.context()
	defer cancel()
	if c.opts.DialTimeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, c.opts.DialTimeout)
		defer cancel()
	}
	var nc net.Conn
	var err error
	if c.opts.Address == "" {
		err = client.ErrNoAddress
	} else if nc, err = c.dialer.DialContext(ctx, "tcp", c.opts.Address); err != nil {
		// Even when the call's own time ran out during the dial: the call
		// then tells why it does not retry (see call).
		err = &dialError{err}
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

// dialError is a failure to connect that a retry may overcome.
type dialError struct{ err error }

// Error returns the dial's error text.
func (e *dialError) Error() string { return e.err.Error() }

// Unwrap returns the dial's error.
func (e *dialError) Unwrap() error { return e.err }
