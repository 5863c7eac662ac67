package echoload

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/plugink/plugink/examples/brpc-client/micro/client"
)

// fake answers calls by number (the warm-up is 0) as answer says: nil
// succeeds, errHang waits for the call's context to end.
type fake struct {
	n      atomic.Int64
	answer func(n int64) error
}

var errHang = errors.New("hang")

func (f *fake) Call(ctx context.Context, _, _ string, _, _ proto.Message, _ ...client.CallOption) error {
	err := f.answer(f.n.Add(1) - 1)
	if err == errHang {
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

func (f *fake) Close() error   { return nil }
func (f *fake) String() string { return "fake" }

func TestRunStopsAtFirstFailure(t *testing.T) {
	boom := errors.New("boom")
	f := &fake{answer: func(n int64) error {
		if n >= 5 {
			return boom
		}
		return nil
	}}
	_, err := Run(f, Config{Calls: 100, Callers: 1})
	assert.ErrorIs(t, err, boom)
	assert.EqualValues(t, 6, f.n.Load(), "calls made: the warm-up, 4 that succeeded, the one that failed")
}

func TestRunKeepGoing(t *testing.T) {
	f := &fake{answer: func(n int64) error {
		switch {
		case n >= 10 && n < 13:
			return errors.New("first kind")
		case n == 20:
			return fmt.Errorf("second kind")
		}
		return nil
	}}
	started := 0
	r, err := Run(f, Config{Calls: 100, Callers: 1, KeepGoing: true, Started: func() { started++ }})
	require.NoError(t, err)
	assert.Equal(t, 100, r.Calls)
	assert.Equal(t, 4, r.Failed)
	assert.Equal(t, []Failure{{"first kind", 3}, {"second kind", 1}}, r.Failures)
	assert.Equal(t, 100-12-1, r.SucceededAfterFailure, "calls 13 to 100 but 20")
	assert.Equal(t, 1, started)
	assert.Positive(t, r.Longest)
}

func TestRunCallTimeout(t *testing.T) {
	f := &fake{answer: func(n int64) error {
		if n == 3 {
			return errHang
		}
		return nil
	}}
	r, err := Run(f, Config{Calls: 10, Callers: 2, KeepGoing: true, CallTimeout: 50 * time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, []Failure{{context.DeadlineExceeded.Error(), 1}}, r.Failures)
	assert.GreaterOrEqual(t, r.Longest, 50*time.Millisecond)
}
