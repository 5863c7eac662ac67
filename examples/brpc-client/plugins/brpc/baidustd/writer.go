package baidustd

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"syscall"
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

// owner says who writes to a Writer's stream; one at a time.
type owner uint8

const (
	idle   owner = iota // nobody: the next Write writes at once
	caller              // a goroutine in Write, trying one write
	loop                // the Writer's goroutine, with whatever is queued
)

// Writer writes frames from many goroutines to one stream, in the order
// they come, without making any of them wait on a slow peer: Write queues
// a frame, and the Writer's goroutine writes whatever has queued in each
// system call, so that concurrent writers share them. On a stream that is
// a syscall.Conn (a TCP connection), WriteNow writes a frame at once, in
// one non-blocking system call from the calling goroutine, when the stream
// is idle, as bRPC does: what that call could not write, and frames that
// come meanwhile, queue up for the goroutine.
type Writer struct {
	w         io.Writer
	raw       syscall.RawConn // nil: every write goes through the loop
	maxQueued int
	onError   func(error)

	mu       sync.Mutex
	owner    owner
	pending  []byte
	inFlight int // bytes the owner has taken and not written yet
	spare    []byte
	err      error
	wake     chan struct{}
	stopped  chan struct{}

	// The state of the owner's non-blocking write (see try); only the
	// owner uses it.
	tryBuf []byte
	tryN   int
	tryErr error
	tryFn  func(fd uintptr) bool
}

// NewWriter starts a Writer over w that queues at most maxQueued bytes
// (0 or negative: [DefaultMaxQueued]). onError, if not nil, is called once,
// when a write to w fails; the Writer then refuses further frames with
// that error.
func NewWriter(w io.Writer, maxQueued int, onError func(error)) *Writer {
	if maxQueued <= 0 {
		maxQueued = DefaultMaxQueued
	}
	fw := &Writer{w: w, maxQueued: maxQueued, onError: onError, wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	if sc, ok := w.(syscall.Conn); ok {
		fw.raw, _ = sc.SyscallConn()
		fw.tryFn = fw.rawWrite
	}
	go fw.loop()
	return fw
}

// Write queues frame, copying it, to be written after the frames queued
// before it. It returns the writer's error once it has failed or closed,
// and an error wrapping [ErrOvercrowded] when the queue is full; a frame
// larger than the limit is still accepted when nothing else waits.
func (fw *Writer) Write(frame []byte) error { return fw.queue(frame, fw.maxQueued, false) }

// WriteNow is Write, except that when the stream is idle it writes frame
// at once, without blocking, from the calling goroutine, which saves a
// handoff to the Writer's goroutine. Measured, it pays for a client
// calling a server in another process, and costs a little CPU when both
// ends share one Go process (see docs/bench/brpc.md).
func (fw *Writer) WriteNow(frame []byte) error { return fw.queue(frame, fw.maxQueued, true) }

// WriteReserved is Write with [Reserve] more bytes of room: for the short
// answer that tells a peer its request was refused because the queue is
// full (bRPC's EOVERCROWDED), which must get through when Write did not.
func (fw *Writer) WriteReserved(frame []byte) error {
	return fw.queue(frame, fw.maxQueued+min(Reserve, math.MaxInt-fw.maxQueued), false)
}

func (fw *Writer) queue(frame []byte, limit int, now bool) error {
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
	if fw.owner != idle || fw.raw == nil || !now {
		fw.pending = append(fw.pending, frame...)
		if fw.owner == idle {
			fw.handOff()
		}
		fw.mu.Unlock()
		return nil
	}
	fw.owner, fw.inFlight = caller, len(frame)
	fw.mu.Unlock()
	n, err := fw.try(frame)
	fw.mu.Lock()
	fw.inFlight = 0
	if err != nil {
		fw.fail(err)
		return nil
	}
	if n < len(frame) {
		// The stream is full: the rest goes first, before what queued
		// while this call wrote.
		rest := append(fw.spare[:0], frame[n:]...)
		fw.pending, fw.spare = append(rest, fw.pending...), nil
	}
	fw.release()
	fw.mu.Unlock()
	return nil
}

// handOff makes the loop the owner and wakes it; fw.mu is held.
func (fw *Writer) handOff() {
	fw.owner = loop
	select {
	case fw.wake <- struct{}{}:
	default:
	}
}

// release ends a turn as owner: the loop takes over what has queued, or the
// stream is idle again (and, once the writer is closed, the loop ends);
// fw.mu is held.
func (fw *Writer) release() {
	if len(fw.pending) > 0 {
		fw.handOff()
		return
	}
	fw.owner = idle
	if fw.err != nil {
		fw.handOff()
	}
}

// fail records a failed write, drops what is queued and reports it;
// fw.mu is held, and unlocked on return.
func (fw *Writer) fail(err error) {
	closing := fw.err != nil
	if !closing {
		fw.err = fmt.Errorf("baidu_std: write: %w", err)
	}
	fw.pending = nil
	fw.owner = idle
	fw.handOff() // to end the loop
	fw.mu.Unlock()
	if !closing && fw.onError != nil {
		fw.onError(err)
	}
}

// try writes what it can of b in one non-blocking system call, and
// returns how much.
func (fw *Writer) try(b []byte) (int, error) {
	fw.tryBuf, fw.tryN, fw.tryErr = b, 0, nil
	err := fw.raw.Write(fw.tryFn)
	n, werr := fw.tryN, fw.tryErr
	fw.tryBuf = nil
	switch {
	case err != nil:
		return n, err
	case werr == syscall.EAGAIN || werr == syscall.EINTR:
		return n, nil
	}
	return n, werr
}

func (fw *Writer) rawWrite(fd uintptr) bool {
	n, err := syscall.Write(int(fd), fw.tryBuf)
	fw.tryN, fw.tryErr = max(n, 0), err
	return true
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
	if fw.owner == idle {
		fw.handOff()
	}
	fw.mu.Unlock()
	<-fw.stopped
	return nil
}

// loop writes what has queued whenever it owns the stream, until the
// writer fails or is closed and nothing is left.
func (fw *Writer) loop() {
	defer close(fw.stopped)
	for range fw.wake {
		for {
			fw.mu.Lock()
			if fw.owner != loop {
				fw.mu.Unlock()
				break
			}
			buf := fw.pending
			if len(buf) == 0 {
				fw.owner = idle
				done := fw.err != nil
				fw.mu.Unlock()
				if done {
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
				fw.fail(err)
				return
			}
			fw.mu.Unlock()
		}
	}
}
