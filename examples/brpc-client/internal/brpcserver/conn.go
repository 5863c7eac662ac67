package brpcserver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
)

// serverConn is one client connection.
type serverConn struct {
	s        *Server
	nc       net.Conn
	w        *baidustd.Writer
	budget   *baidustd.Budget // for decompressed payloads, within the server's
	ctx      context.Context
	cancel   context.CancelFunc
	addr     string // the server's address, as bRPC puts it in error texts
	peer     string // the client's address
	requests sync.WaitGroup
}

// newConn starts serving nc; s.mu is held.
func (s *Server) newConn(nc net.Conn) *serverConn {
	ctx, cancel := context.WithCancel(context.Background())
	sc := &serverConn{s: s, nc: nc, ctx: ctx, cancel: cancel, addr: nc.LocalAddr().String(), peer: nc.RemoteAddr().String(),
		budget: baidustd.NewBudget(s.connBudget, s.budget)}
	sc.w = baidustd.NewWriter(nc, s.maxQueued, func(err error) {
		s.logf("brpcserver: %s: %v", sc.peer, err)
		nc.Close()
	})
	s.wg.Add(1)
	go sc.serve()
	return sc
}

// serve reads requests until the peer stops sending, or the connection
// fails, running each in its own goroutine; then it finishes.
func (sc *serverConn) serve() {
	defer sc.s.wg.Done()
	d := baidustd.NewDecoder(sc.nc, sc.s.maxBodySize)
	d.SetFrameTimeout(sc.s.frameTimeout)
	for {
		f := new(baidustd.Frame)
		if err := d.Decode(f); err != nil {
			// A client closing between frames is the normal end.
			if !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
				sc.s.logf("brpcserver: %s: %v", sc.peer, err)
			}
			break
		}
		sc.requests.Go(func() { sc.respond(f) })
	}
	sc.finish()
}

// finish waits for the requests already read and writes their answers
// (within the frame timeout, so that a peer that does not read cannot hold
// the connection), then closes the connection. A peer that shut down its
// write side after its requests gets every answer.
func (sc *serverConn) finish() {
	sc.requests.Wait()
	sc.nc.SetWriteDeadline(time.Now().Add(cmp.Or(sc.s.frameTimeout, DefaultFrameTimeout)))
	sc.w.Close()
	sc.nc.Close()
	sc.cancel()
	sc.s.mu.Lock()
	delete(sc.s.conns, sc)
	sc.s.mu.Unlock()
}

// respond runs the request f and queues its response. An answer that does
// not fit the queue is replaced by an EOVERCROWDED error.
func (sc *serverConn) respond(f *baidustd.Frame) {
	rsp := response{}
	sc.run(f, &rsp)
	frame := sc.answer(f.Meta.CorrelationID, &rsp)
	// The answer is encoded: the request's payload is no longer needed.
	// Give its bytes back before the answer can reach the peer, which may
	// send its next request as soon as it has it.
	rsp.lease.Release()
	err := sc.w.Write(frame)
	if errors.Is(err, baidustd.ErrOvercrowded) {
		sc.overcrowded(f.Meta.CorrelationID, err)
	}
	// Any other error has already closed the connection and been logged.
}

// answer encodes rsp as the response frame to request id.
func (sc *serverConn) answer(id int64, rsp *response) []byte {
	meta := baidustd.Meta{
		Response:      &baidustd.ResponseMeta{ErrorCode: int32(rsp.code)},
		CorrelationID: id,
	}
	if rsp.code != 0 {
		meta.Response.ErrorText = fmt.Sprintf("[%s][E%d]%s", sc.addr, int32(rsp.code), rsp.text)
		rsp.payload, rsp.attachment = nil, nil
	}
	return baidustd.AppendFrame(nil, &meta, rsp.payload, rsp.attachment)
}

// overcrowded answers request id with EOVERCROWDED, as bRPC does when a
// connection's write queue is full, from the writer's reserve; when even
// that is full, the peer has not read for long, and the connection is
// closed.
func (sc *serverConn) overcrowded(id int64, cause error) {
	rsp := response{}
	rsp.fail(baidustd.EOVERCROWDED, "Connection to %s is overcrowded", sc.peer)
	if err := sc.w.WriteReserved(sc.answer(id, &rsp)); err != nil {
		sc.s.logEvery("overcrowded", "brpcserver: %s: closing the connection: %v", sc.peer, err)
		sc.nc.Close()
		return
	}
	sc.s.logEvery("overcrowded", "brpcserver: %s: answered EOVERCROWDED: %v", sc.peer, cause)
}
