package brpc

import (
	"context"
	"sync"
	"time"
)

// bounds is what ends a call before its answer: its context, and its
// deadline (client.CallDeadline). The deadline runs on a timer from a
// pool rather than on a context of its own, so that a call allocates
// nothing for it.
type bounds struct {
	ctx   context.Context
	at    time.Time
	timer *time.Timer // nil: no deadline
}

var timers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// newBounds starts the clock of a call with context ctx and, when ok, the
// deadline at; stop it when the call ends.
func newBounds(ctx context.Context, at time.Time, ok bool) bounds {
	b := bounds{ctx: ctx}
	if ok {
		b.at = at
		b.timer = timers.Get().(*time.Timer)
		b.timer.Reset(time.Until(at))
	}
	return b
}

// stop gives the timer back.
func (b *bounds) stop() {
	if b.timer != nil {
		b.timer.Stop() // a tick not received is dropped (Go 1.23 timers)
		timers.Put(b.timer)
		b.timer = nil
	}
}

// expired returns a channel that receives when the deadline passes (nil
// without a deadline; it receives once).
func (b *bounds) expired() <-chan time.Time {
	if b.timer == nil {
		return nil
	}
	return b.timer.C
}

// err returns why the call must end now, or nil: its context's cause, or
// context.DeadlineExceeded once its deadline has passed.
func (b *bounds) err() error {
	if b.ctx.Err() != nil {
		return context.Cause(b.ctx)
	}
	if b.timer != nil && !time.Now().Before(b.at) {
		return context.DeadlineExceeded
	}
	return nil
}

// context returns the call's context bounded by its deadline, for what
// takes a context (dialing).
func (b *bounds) context() (context.Context, context.CancelFunc) {
	if b.timer == nil {
		return b.ctx, func() {}
	}
	return context.WithDeadline(b.ctx, b.at)
}
