package process

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestServerBegin(t *testing.T) {
	s := newServer()
	id := s.Add("impl")
	if id2 := s.Add("impl2"); id2 == id {
		t.Fatalf("two instances numbered %d", id)
	}

	ctx, impl, end, err := s.Begin(Header{Instance: id, Call: 1})
	if err != nil || impl != "impl" {
		t.Fatalf("Begin = %v, %v", impl, err)
	}
	if ctx.Err() != nil {
		t.Fatal("a call's context ended as it began")
	}
	if err := s.PluginkCancel(&CancelArgs{Call: 1}, nil); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatalf("after PluginkCancel the call's context: %v", ctx.Err())
	}
	end()
	if len(s.calls) != 0 {
		t.Fatalf("an ended call is kept: %v", s.calls)
	}

	// The host's deadline is the call's.
	ctx, _, end, err = s.Begin(Header{Instance: id, Call: 2, Deadline: time.Now().Add(-time.Second)})
	if err != nil || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("a call past its deadline: %v, %v", ctx.Err(), err)
	}
	end()

	if err := s.PluginkRelease(&ReleaseArgs{Instance: id}, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.Begin(Header{Instance: id, Call: 3}); err == nil {
		t.Fatal("Begin on a released instance")
	}
}

// The cancellation of a call can be served before the call's Begin (net/rpc
// serves each request in its own goroutine): the call begins cancelled.
func TestServerCancelBeforeBegin(t *testing.T) {
	s := newServer()
	id := s.Add("impl")
	if err := s.PluginkCancel(&CancelArgs{Call: 7}, nil); err != nil {
		t.Fatal(err)
	}
	ctx, _, end, err := s.Begin(Header{Instance: id, Call: 7})
	if err != nil {
		t.Fatal(err)
	}
	defer end()
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatalf("a call cancelled before it began: its context is %v, want cancelled", ctx.Err())
	}
	if len(s.early) != 0 {
		t.Fatalf("the early cancellation is kept after its call began: %v", s.early)
	}
	// Others are not.
	ctx, _, end2, _ := s.Begin(Header{Instance: id, Call: 8})
	defer end2()
	if ctx.Err() != nil {
		t.Fatal("another call began cancelled")
	}
}

// Cancellations of calls that never begin are forgotten in time.
func TestServerEarlyBounded(t *testing.T) {
	s := newServer()
	old := time.Now().Add(-2 * earlyTTL)
	for n := range uint64(100) {
		s.early[n+1000] = old
	}
	s.PluginkCancel(&CancelArgs{Call: 1}, nil)
	if len(s.early) != 1 {
		t.Fatalf("%d early cancellations kept, want the new one", len(s.early))
	}
}
