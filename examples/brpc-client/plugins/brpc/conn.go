package brpc

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
)

// conn is one connection and the calls waiting for answers on it. A reader
// goroutine delivers each answer to its call by correlation_id; a
// baidustd.Writer sends requests. The first failure — of the reader, the
// writer or Close — fails every waiting call and closes the connection.
type conn struct {
	nc     net.Conn
	w      *baidustd.Writer
	broken atomic.Bool

	mu    sync.Mutex
	calls map[int64]*call
	err   error
}

// call is one request waiting for its answer. done receives once, after
// frame or err is set.
type call struct {
	done  chan struct{}
	frame baidustd.Frame
	err   error
}

var callPool = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

func putCall(cl *call) {
	cl.frame, cl.err = baidustd.Frame{}, nil
	callPool.Put(cl)
}

// newConn starts the goroutines of a connection over nc; stopped is
// called when both have ended.
func newConn(nc net.Conn, o *options, stopped func()) *conn {
	cn := &conn{nc: nc, calls: map[int64]*call{}}
	cn.w = baidustd.NewWriter(nc, o.maxQueued, func(err error) { cn.fail(err) })
	go cn.read(o.maxBodySize, o.frameTimeout, stopped)
	return cn
}

func (cn *conn) read(maxBodySize int, frameTimeout time.Duration, stopped func()) {
	defer stopped()
	defer cn.w.Close()
	d := baidustd.NewDecoder(cn.nc, maxBodySize)
	d.SetFrameTimeout(frameTimeout)
	for {
		var f baidustd.Frame
		if err := d.Decode(&f); err != nil {
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("server closed the connection: %w", err)
			}
			cn.fail(err)
			return
		}
		cn.mu.Lock()
		cl := cn.calls[f.Meta.CorrelationID]
		delete(cn.calls, f.Meta.CorrelationID)
		cn.mu.Unlock()
		if cl == nil {
			continue // the answer to a call that stopped waiting
		}
		cl.frame = f
		cl.done <- struct{}{}
	}
}

// register adds a call waiting for the answer with correlation id id.
func (cn *conn) register(id int64) (*call, error) {
	cl := callPool.Get().(*call)
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.err != nil {
		callPool.Put(cl)
		return nil, cn.err
	}
	cn.calls[id] = cl
	return cl, nil
}

// forget removes a call that stopped waiting. It reports whether the call
// was still registered; if not, the reader or fail holds it and will signal
// it, so it must not be reused.
func (cn *conn) forget(id int64) bool {
	cn.mu.Lock()
	_, ok := cn.calls[id]
	delete(cn.calls, id)
	cn.mu.Unlock()
	return ok
}

// fail breaks the connection with cause, once: every waiting call fails
// and the reader and writer stop. ErrClosed is passed on as it is; other
// causes are wrapped in ErrConnection.
func (cn *conn) fail(cause error) {
	err := cause
	if !errors.Is(cause, ErrClosed) {
		err = fmt.Errorf("%w: %w", ErrConnection, cause)
	}
	cn.mu.Lock()
	if cn.err != nil {
		cn.mu.Unlock()
		return
	}
	cn.err = err
	cn.broken.Store(true)
	calls := cn.calls
	cn.calls = nil
	cn.mu.Unlock()
	cn.nc.Close()
	for _, cl := range calls {
		cl.err = err
		cl.done <- struct{}{}
	}
}
