package brpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
)

// conn is one connection and the calls waiting for answers on it; a
// baidustd.Writer sends the requests. Answers are read by whoever holds the
// connection's turn, one at a time, and delivered to their calls by
// correlation_id: the call that finds the turn free (no call waiting)
// reads for itself, and for calls that come meanwhile, until its own answer
// comes, so that a lone caller needs no other goroutine; if calls still
// wait then, the turn goes to the connection's background reader, which
// reads as long as calls wait. The first failure — of a read, a write or
// Close — fails every waiting call and closes the connection.
type conn struct {
	nc     net.Conn
	w      *baidustd.Writer
	dec    *baidustd.Decoder // used by the holder of the turn
	broken atomic.Bool
	bg     chan struct{} // hands the turn to the background reader
	dead   chan struct{} // closed by fail

	rmu       sync.Mutex // guards the fields below: the reading call's interruption
	lead      uint64     // counts the turns calls have taken
	leading   bool       // a call holds the turn
	idle      bool       // it is waiting for a frame to start
	interrupt bool       // its context ended

	mu    sync.Mutex
	calls map[int64]*call
	free  bool // nobody reads: the turn goes to the next call
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

// newConn starts a connection over nc; stopped is called when its
// goroutines have ended.
func newConn(nc net.Conn, o *options, stopped func()) *conn {
	cn := &conn{nc: nc, calls: map[int64]*call{}, free: true, dec: baidustd.NewDecoder(nc, o.maxBodySize),
		bg: make(chan struct{}, 1), dead: make(chan struct{})}
	cn.dec.SetFrameTimeout(o.frameTimeout)
	cn.w = baidustd.NewWriter(nc, o.maxQueued, func(err error) { cn.fail(err) })
	go cn.background(stopped)
	return cn
}

// background is the connection's reader when calls hand it the turn: it
// reads until no call waits, then frees the turn. It ends, and stops the
// writer, when the connection fails.
func (cn *conn) background(stopped func()) {
	defer stopped()
	defer cn.w.Close()
	for {
		select {
		case <-cn.bg:
		case <-cn.dead:
			return
		}
		for cn.readFrame() && !cn.release() {
			if cn.dec.Buffered() == 0 {
				// Nothing more is here yet: let the callers just answered
				// run before this goroutine goes back to the socket, which
				// would most often find it empty and keep them waiting.
				runtime.Gosched()
			}
		}
	}
}

// release frees the turn if no call waits, and reports whether it did.
func (cn *conn) release() bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	cn.free = len(cn.calls) == 0
	return cn.free
}

// readFrame decodes the next frame and delivers it to its call. On a
// failure it breaks the connection and reports false.
func (cn *conn) readFrame() bool {
	var f baidustd.Frame
	if err := cn.dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("server closed the connection: %w", err)
		}
		cn.fail(err)
		return false
	}
	cn.mu.Lock()
	cl := cn.calls[f.Meta.CorrelationID]
	delete(cn.calls, f.Meta.CorrelationID)
	cn.mu.Unlock()
	if cl != nil { // else the answer to a call that stopped waiting
		cl.frame = f
		cl.done <- struct{}{}
	}
	return true
}

// wait waits for the answer to cl. A call that took the turn (lead)
// reads the connection itself. It reports false when b ended first.
func (cn *conn) wait(cl *call, b *bounds, lead bool) bool {
	if lead && !cn.readFor(cl, b) {
		select {
		case <-cl.done:
			return true
		default:
			return false
		}
	}
	select {
	case <-cl.done:
		return true
	case <-b.ctx.Done():
		return false
	case <-b.expired():
		return false
	}
}

// readFor reads frames, with the turn, until cl's answer has come or the
// connection failed (true), or b ended while no frame was arriving
// (false); then it passes the turn on. A frame that has begun to arrive is
// read to its end (within the frame timeout) before b is looked at again.
func (cn *conn) readFor(cl *call, b *bounds) bool {
	defer cn.passTurn()
	cn.rmu.Lock()
	cn.lead++
	seq := cn.lead
	cn.leading, cn.interrupt = true, false
	cn.rmu.Unlock()
	if b.ctx.Done() != nil {
		stop := context.AfterFunc(b.ctx, func() { cn.interruptRead(seq) })
		defer stop()
	}
	defer func() {
		cn.rmu.Lock()
		cn.leading = false
		cn.rmu.Unlock()
	}()
	for len(cl.done) == 0 {
		if !cn.waitFrame(b) {
			return len(cl.done) > 0 || cn.broken.Load()
		}
		if !cn.readFrame() {
			return true
		}
	}
	return true
}

// waitFrame waits, until b's deadline, for the next frame to begin. It
// reports false when b ended first, or the connection failed.
func (cn *conn) waitFrame(b *bounds) bool {
	if cn.dec.Buffered() > 0 {
		return true
	}
	cn.rmu.Lock()
	if cn.interrupt {
		cn.rmu.Unlock()
		return false
	}
	cn.idle = true
	cn.nc.SetReadDeadline(b.at) // the zero time when b has no deadline
	cn.rmu.Unlock()
	err := cn.dec.WaitFrame()
	cn.rmu.Lock()
	cn.idle = false
	cn.rmu.Unlock()
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("server closed the connection: %w", err)
		}
		cn.fail(err)
	}
	return err == nil
}

// interruptRead ends the wait of the reading call that took turn seq, if
// it still reads: its context has ended.
func (cn *conn) interruptRead(seq uint64) {
	cn.rmu.Lock()
	defer cn.rmu.Unlock()
	if !cn.leading || cn.lead != seq {
		return
	}
	cn.interrupt = true
	if cn.idle {
		cn.nc.SetReadDeadline(time.Unix(1, 0))
	}
}

// passTurn gives the turn to the background reader when calls still wait
// for answers, and frees it otherwise.
func (cn *conn) passTurn() {
	if !cn.release() {
		cn.bg <- struct{}{}
	}
}

// register adds a call waiting for the answer with correlation id id. It
// reports whether the call takes the turn, which it must then pass on
// (wait, or passTurn if it does not wait).
func (cn *conn) register(id int64) (cl *call, lead bool, err error) {
	cl = callPool.Get().(*call)
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.err != nil {
		callPool.Put(cl)
		return nil, false, cn.err
	}
	cn.calls[id] = cl
	lead, cn.free = cn.free, false
	return cl, lead, nil
}

// forget removes a call that stopped waiting. It reports whether the call
// was still registered; if not, a reader or fail holds it and will signal
// it, so it must not be reused.
func (cn *conn) forget(id int64) bool {
	cn.mu.Lock()
	_, ok := cn.calls[id]
	delete(cn.calls, id)
	cn.mu.Unlock()
	return ok
}

// fail breaks the connection with cause, once: every waiting call fails
// and the readers and the writer stop. ErrClosed is passed on as it is;
// other causes are wrapped in ErrConnection.
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
	close(cn.dead)
	for _, cl := range calls {
		cl.err = err
		cl.done <- struct{}{}
	}
}
