package baidustd_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/examples/brpc-client/plugins/brpc/baidustd"
)

// syncBuffer is a bytes.Buffer safe for the writer goroutine and the test.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func TestWriterKeepsFramesWhole(t *testing.T) {
	var out syncBuffer
	w := baidustd.NewWriter(&out, 0, nil)
	const writers, per = 8, 200
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range per {
				f := baidustd.AppendFrame(nil, echoRequest(int64(g*per+i)), bytes.Repeat([]byte{byte(g)}, i), nil)
				require.NoError(t, w.Write(f))
			}
		})
	}
	wg.Wait()
	require.NoError(t, w.Close(), "Close writes what is queued")
	assert.ErrorIs(t, w.Write([]byte("late")), baidustd.ErrWriterClosed)

	d := baidustd.NewDecoder(&out.b, 0)
	seen := map[int64]bool{}
	for {
		var f baidustd.Frame
		err := d.Decode(&f)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		id := f.Meta.CorrelationID
		assert.Equal(t, bytes.Repeat([]byte{byte(id / per)}, int(id%per)), f.Payload)
		seen[id] = true
	}
	assert.Len(t, seen, writers*per, "every frame arrives whole")
	t.Logf("%d frames in %d writes", writers*per, out.writes)
}

type brokenWriter struct{ n atomic.Int32 }

func (b *brokenWriter) Write(p []byte) (int, error) {
	b.n.Add(1)
	return 0, errors.New("broken pipe")
}

func TestWriterReportsTheFirstError(t *testing.T) {
	var calls atomic.Int32
	got := make(chan error, 1)
	w := baidustd.NewWriter(&brokenWriter{}, 0, func(err error) {
		calls.Add(1)
		got <- err
	})
	require.NoError(t, w.Write([]byte("frame")))
	assert.EqualError(t, <-got, "broken pipe")
	err := w.Write([]byte("again"))
	assert.EqualError(t, err, "baidu_std: write: broken pipe")
	require.NoError(t, w.Close())
	assert.Equal(t, int32(1), calls.Load())
}

// TestWriterBoundsItsQueue writes to a peer that never reads: the queue
// stops growing at its limit, and closing the connection frees the writer.
func TestWriterBoundsItsQueue(t *testing.T) {
	local, peer := net.Pipe()
	defer peer.Close()
	const limit, size = 1 << 20, 10 << 10
	w := baidustd.NewWriter(local, limit, nil)
	frame := make([]byte, size)
	var queued int
	for {
		err := w.Write(frame)
		if err != nil {
			assert.ErrorIs(t, err, baidustd.ErrOvercrowded)
			break
		}
		queued += size
		require.LessOrEqual(t, queued, limit, "the queue is bounded")
	}
	assert.Greater(t, queued, limit-size)
	local.Close()
	require.NoError(t, w.Close())
}

// gatedWriter hands each write to the test on entered and completes it,
// copying the bytes as they are then, when the test sends on release.
type gatedWriter struct {
	entered chan []byte
	release chan struct{}
	out     bytes.Buffer
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.entered <- p
	<-g.release
	return g.out.Write(p)
}

// TestWriterDoesNotReuseABufferItWrites queues frames while the writer is
// busy with a batch too large to keep for reuse, then with the next one:
// the frames queued meanwhile must not land in the buffer being written.
func TestWriterDoesNotReuseABufferItWrites(t *testing.T) {
	g := &gatedWriter{entered: make(chan []byte), release: make(chan struct{})}
	w := baidustd.NewWriter(g, 0, nil)
	small := func(c byte) []byte { return bytes.Repeat([]byte{c}, 100) }
	big := bytes.Repeat([]byte{'B'}, 2<<20)

	require.NoError(t, w.Write(small('a')))
	<-g.entered // the batch "a", kept for reuse once written
	g.release <- struct{}{}
	require.NoError(t, w.Write(big))
	<-g.entered // the batch of the big frame, too large to keep
	require.NoError(t, w.Write(small('c')))
	g.release <- struct{}{}
	<-g.entered // the batch "c"
	require.NoError(t, w.Write(small('d')))
	g.release <- struct{}{}
	<-g.entered // the batch "d"
	g.release <- struct{}{}
	require.NoError(t, w.Close())

	want := slices.Concat(small('a'), big, small('c'), small('d'))
	require.Equal(t, len(want), g.out.Len())
	assert.True(t, bytes.Equal(want, g.out.Bytes()), "frames arrive as written, in order")
}

// write writes with WriteNow from even goroutines, Write from odd ones.
func write(w *baidustd.Writer, g int, frame []byte) error {
	if g%2 == 0 {
		return w.WriteNow(frame)
	}
	return w.Write(frame)
}

// TestWriterOverTCPKeepsFramesWhole writes frames of many sizes from 8
// goroutines, with Write and WriteNow, to a TCP connection whose reader
// starts only once every frame has been handed to the writer (neither
// blocks), so that the socket fills and writes end part way: every frame
// arrives whole, and each goroutine's frames in the order it wrote them.
func TestWriterOverTCPKeepsFramesWhole(t *testing.T) {
	peer, nc := tcpPair(t)
	w := baidustd.NewWriter(nc, 0, nil)
	const writers, per = 8, 300 // about 20 MB in all, within the queue's limit
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range per {
				payload := bytes.Repeat([]byte{byte(g)}, (i*7919+g*104729)%(16<<10))
				if err := write(w, g, baidustd.AppendFrame(nil, echoRequest(int64(g*per+i)), payload, nil)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait() // about 20 MB queued or written: more than the socket holds
	peer.SetReadDeadline(time.Now().Add(time.Minute))
	d := baidustd.NewDecoder(peer, 0)
	next := make([]int, writers)
	for range writers * per {
		var f baidustd.Frame
		require.NoError(t, d.Decode(&f))
		g, i := int(f.Meta.CorrelationID)/per, int(f.Meta.CorrelationID)%per
		require.Equal(t, next[g], i, "writer %d's frames in order", g)
		next[g]++
		require.Equal(t, bytes.Repeat([]byte{byte(g)}, (i*7919+g*104729)%(16<<10)), f.Payload)
	}
	require.NoError(t, w.Close())
}

// TestWriterOverTCPReportsABrokenConnection resets the connection under a
// Writer: a later write fails, onError hears of it once, and Write then
// returns the error.
func TestWriterOverTCPReportsABrokenConnection(t *testing.T) {
	peer, nc := tcpPair(t)
	var calls atomic.Int32
	w := baidustd.NewWriter(nc, 0, func(error) { calls.Add(1) })
	peer.(*net.TCPConn).SetLinger(0)
	peer.Close()
	frame := baidustd.AppendFrame(nil, echoRequest(1), []byte("payload"), nil)
	// The reset may reach the socket after a first write has gone into its
	// buffer: write until one fails.
	require.Eventually(t, func() bool { return w.WriteNow(frame) != nil }, time.Minute, time.Millisecond)
	assert.ErrorContains(t, w.WriteNow(frame), "baidu_std: write: ")
	require.NoError(t, w.Close())
	assert.Equal(t, int32(1), calls.Load())
}
