package baidustd

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
)

// ErrWriterClosed is returned by [Writer.Write] after [Writer.Close].
var ErrWriterClosed = errors.New("baidu_std: writer closed")

// ErrOvercrowded reports work refused because it would take more memory
// than a limit allows: a frame that would take the bytes waiting in a
// [Writer] past its limit, as when the peer stops reading, or a payload
// that would take more than is left of a decompression [Budget]. What
// refused it stays usable; bRPC's error for this state is EOVERCROWDED.
var ErrOvercrowded = errors.New("baidu_std: overcrowded")

// DefaultMaxQueued is the default limit of a [Writer]'s queue, in bytes.
const DefaultMaxQueued = 64 << 20

// Reserve is how many bytes past its limit a [Writer] queues for
// [Writer.WriteReserved]: room for thousands of short error answers.
const Reserve = 1 << 20

// maxSpare is the largest batch buffer a Writer keeps for reuse.
const maxSpare = 1 << 20

// Writer writes frames from many goroutines to one stream. Write copies a
// frame into a queue and returns at once; one goroutine writes whatever
// has queued up in a single call, so that concurrent callers share
// system calls and no caller waits on a slow peer.
type Writer struct {
	w         io.Writer
	maxQueued int
	onError   func(error)

	mu       sync.Mutex
	pending  []byte
	inFlight int // bytes the writing goroutine has taken and not written yet
	spare    []byte
	err      error
	wake     chan struct{}
	stopped  chan struct{}
}

// NewWriter starts a Writer over w that queues at most maxQueued bytes
// (0 or negative: [DefaultMaxQueued]). onError, if not nil, is called once, from
// the writing goroutine, when a write to w fails; the Writer then refuses
// further frames with that error.
func NewWriter(w io.Writer, maxQueued int, onError func(error)) *Writer {
	if maxQueued <= 0 {
		maxQueued = DefaultMaxQueued
	}
	fw := &Writer{w: w, maxQueued: maxQueued, onError: onError, wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	go fw.loop()
	return fw
}

// Write queues frame, copying it, to be written after the frames queued
// before it. It returns the writer's error once it has failed or closed,
// and an error wrapping [ErrOvercrowded] when the queue is full; a frame
// larger than the limit is still accepted when nothing else waits.
func (fw *Writer) Write(frame []byte) error { return fw.queue(frame, fw.maxQueued) }

// WriteReserved is Write with [Reserve] more bytes of room: for the short
// answer that tells a peer its request was refused because the queue is
// full (bRPC's EOVERCROWDED), which must get through when Write did not.
func (fw *Writer) WriteReserved(frame []byte) error {
	return fw.queue(frame, fw.maxQueued+min(Reserve, math.MaxInt-fw.maxQueued))
}

func (fw *Writer) queue(frame []byte, limit int) error {
	fw.mu.Lock()
	if fw.err != nil {
		err := fw.err
		fw.mu.Unlock()
		return err
	}
	if queued := len(fw.pending) + fw.inFlight; queued > 0 && len(frame) > limit-queued {
		fw.mu.Unlock()
		return fmt.Errorf("%w: %d bytes queued for writing, %d more would pass the limit of %d", ErrOvercrowded, queued, len(frame), limit)
	}
	fw.pending = append(fw.pending, frame...)
	fw.mu.Unlock()
	select {
	case fw.wake <- struct{}{}:
	default:
	}
	return nil
}

// Close stops the writer after it has written what is queued, or given up
// on it after a failed write, and waits for its goroutine to end. A write
// blocked on a peer that does not read blocks Close too: close the
// underlying connection first to abandon what is queued.
func (fw *Writer) Close() error {
	fw.mu.Lock()
	if fw.err == nil {
		fw.err = ErrWriterClosed
	}
	fw.mu.Unlock()
	select {
	case fw.wake <- struct{}{}:
	default:
	}
	<-fw.stopped
	return nil
}

func (fw *Writer) loop() {
	defer close(fw.stopped)
	for range fw.wake {
		for {
			fw.mu.Lock()
			buf, failed := fw.pending, fw.err
			if len(buf) == 0 {
				fw.mu.Unlock()
				if failed != nil {
					return
				}
				break
			}
			// The spare buffer now belongs to pending: it is kept for
			// reuse again only by the swap below, never twice.
			fw.pending, fw.spare = fw.spare[:0], nil
			fw.inFlight = len(buf)
			fw.mu.Unlock()

			_, err := fw.w.Write(buf)
			fw.mu.Lock()
			fw.inFlight = 0
			if cap(buf) <= maxSpare {
				fw.spare = buf[:0]
			}
			if err != nil {
				closing := fw.err != nil
				if !closing {
					fw.err = fmt.Errorf("baidu_std: write: %w", err)
				}
				fw.pending = nil
				fw.mu.Unlock()
				if !closing && fw.onError != nil {
					fw.onError(err)
				}
				return
			}
			fw.mu.Unlock()
		}
	}
}
