package brpc

import (
	"context"
	"sync"
	"time"
)

// bounds is what ends a call before its answer: its context, and its
// deadline (client.CallDeadline). The deadline runs on a timer from a
// pool, rather than on a context of its own, so that a call allocates
// nothing for it, and the timer is armed only when the call first waits
// on channels: a call that reads its own answer is bounded by the read
// deadline it sets on the connection instead, which moves one timer later
// rather than adding one (and waking the runtime's network poller to
// account for it) for each call.
type bounds struct {
	ctx   context.Context
	at    time.Time
	has   bool        // there is a deadline
	timer *time.Timer // armed by expired
}

var timers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// newBounds returns the bounds of a call with context ctx and, when ok,
// the deadline at; stop them when the call ends.
func newBounds(ctx context.Context, at time.Time, ok bool) bounds {
	return bounds{ctx: ctx, at: at, has: ok}
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
// without a deadline; it receives once), arming the timer.
func (b *bounds) expired() <-chan time.Time {
	if !b.has {
		return nil
	}
	if b.timer == nil {
		b.timer = timers.Get().(*time.Timer)
		b.timer.Reset(time.Until(b.at))
	}
	return b.timer.C
}

// err returns why the call must end now, or nil: its context's cause, or
// context.DeadlineExceeded once its deadline has passed.
func (b *bounds) err() error {
	if b.ctx.Err() != nil {
		return context.Cause(b.ctx)
	}
	if b.has && !time.Now().Before(b.at) {
		return context.DeadlineExceeded
	}
	return nil
}

// context returns the call's context bounded by its deadline, for what
// takes a context (dialing).
func (b *bounds) context() (context.Context, context.CancelFunc) {
	if !b.has {
		return b.ctx, func() {}
	}
	return context.WithDeadline(b.ctx, b.at)
}
