package baidustd

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// ErrWriterClosed is returned by [Writer.Write] after [Writer.Close].
var ErrWriterClosed = errors.New("baidu_std: writer closed")

// maxSpare is the largest batch buffer a Writer keeps for reuse.
const maxSpare = 1 << 20

// Writer writes frames from many goroutines to one stream. Write copies a
// frame into a queue and returns at once; one goroutine writes whatever
// has queued up in a single call, so that concurrent callers share
// system calls and no caller waits on a slow peer.
type Writer struct {
	w       io.Writer
	onError func(error)

	mu      sync.Mutex
	pending []byte
	spare   []byte
	err     error
	wake    chan struct{}
	stopped chan struct{}
}

// NewWriter starts a Writer over w. onError, if not nil, is called once,
// from the writing goroutine, when a write to w fails; the Writer then
// refuses further frames with that error.
func NewWriter(w io.Writer, onError func(error)) *Writer {
	fw := &Writer{w: w, onError: onError, wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	go fw.loop()
	return fw
}

// Write queues frame, copying it, to be written after the frames queued
// before it. It returns the writer's error once it has failed or closed.
func (fw *Writer) Write(frame []byte) error {
	fw.mu.Lock()
	if fw.err != nil {
		err := fw.err
		fw.mu.Unlock()
		return err
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
			fw.pending = fw.spare[:0]
			fw.mu.Unlock()

			_, err := fw.w.Write(buf)
			fw.mu.Lock()
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
