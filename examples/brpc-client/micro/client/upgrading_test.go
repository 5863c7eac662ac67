package client_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/plugink/plugink/examples/brpc-client/micro/client"
	"github.com/plugink/plugink/examples/brpc-client/proto/echopb"
	"github.com/plugink/plugink/runtime"
)

// fake is a client of one generation that records calls in flight at Close.
type fake struct {
	gen      int
	inflight atomic.Int64
	closed   atomic.Bool
	late     *atomic.Int64 // calls that ran after Close, or were in flight then
	called   chan struct{} // if not nil, closed by the first call
	once     sync.Once
}

func (f *fake) Call(ctx context.Context, service, method string, req, rsp proto.Message, opts ...client.CallOption) error {
	f.inflight.Add(1)
	defer f.inflight.Add(-1)
	if f.closed.Load() {
		f.late.Add(1)
		return client.ErrClosed
	}
	if f.called != nil {
		f.once.Do(func() { close(f.called) })
	}
	time.Sleep(50 * time.Microsecond) // a call takes a while: calls are in flight when the client changes
	rsp.(*echopb.EchoResponse).Message = proto.String(fmt.Sprint(f.gen))
	return nil
}

func (f *fake) Close() error {
	if f.inflight.Load() != 0 {
		f.late.Add(1)
	}
	f.closed.Store(true)
	return nil
}

func (f *fake) String() string { return fmt.Sprintf("fake v%d", f.gen) }

func TestUpgradingFollowsTheKind(t *testing.T) {
	var late atomic.Int64
	var mu sync.Mutex
	var made []*fake
	called := map[int]chan struct{}{} // closed by each generation's first call
	for gen := 1; gen <= 4; gen++ {
		called[gen] = make(chan struct{})
	}
	register := func(gen int, opts ...runtime.InitOption) {
		t.Helper()
		require.NoError(t, client.Kind.Register("upgrading-test", func(...client.Option) client.Client {
			f := &fake{gen: gen, late: &late, called: called[gen]}
			mu.Lock()
			made = append(made, f)
			mu.Unlock()
			return f
		}, opts...))
	}
	register(1, runtime.ReplaceOnly("client/upgrading-test")) // -count=N runs it again
	swapped := make(chan string, 8)
	u, err := client.NewUpgrading("upgrading-test", func(c client.Client) { swapped <- c.String() })
	require.NoError(t, err)

	var stop atomic.Bool
	var calls, failures atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for !stop.Load() {
				var rsp echopb.EchoResponse
				if err := u.Call(context.Background(), "s", "m", &echopb.EchoRequest{}, &rsp); err != nil {
					failures.Add(1)
				}
				calls.Add(1)
			}
		})
	}
	// Each generation is replaced once calls go through it.
	waitCalled := func(gen int) {
		t.Helper()
		select {
		case <-called[gen]:
		case <-time.After(time.Minute):
			t.Fatalf("no call went through generation %d", gen)
		}
	}
	for gen := 2; gen <= 4; gen++ {
		waitCalled(gen - 1)
		register(gen, runtime.ReplaceOnly("client/upgrading-test"))
		select {
		case s := <-swapped:
			assert.Equal(t, fmt.Sprintf("fake v%d", gen), s)
		case <-time.After(time.Minute):
			t.Fatalf("no swap to generation %d", gen)
		}
	}
	waitCalled(4)
	stop.Store(true)
	wg.Wait()
	assert.Zero(t, failures.Load(), "of %d calls", calls.Load())
	assert.Equal(t, "fake v4", u.String())
	require.NoError(t, u.Close())
	assert.Zero(t, late.Load(), "no client closed under a call")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, made, 4)
	for _, f := range made {
		assert.True(t, f.closed.Load(), "Close has closed generation %d's client", f.gen)
	}
	assert.ErrorIs(t, u.Call(context.Background(), "s", "m", &echopb.EchoRequest{}, &echopb.EchoResponse{}), client.ErrClosed)
}

// TestUpgradingAfterBurst: Kind drops names it cannot send at once; a
// burst of other registrations while the client is busy swapping must not
// lose the one of its own name that comes after.
func TestUpgradingAfterBurst(t *testing.T) {
	register := func(name string, gen int) {
		t.Helper()
		require.NoError(t, client.Kind.Register(name, func(...client.Option) client.Client {
			return &fake{gen: gen, late: new(atomic.Int64)}
		}, runtime.ReplaceOnly("client/"+name)))
	}
	register("burst", 1)
	block, busy := make(chan struct{}), make(chan struct{})
	swapped := make(chan string, 8)
	var first atomic.Bool
	first.Store(true)
	u, err := client.NewUpgrading("burst", func(c client.Client) {
		if first.Swap(false) {
			close(busy)
			<-block // busy: the names that come meanwhile queue up
		}
		swapped <- c.String()
	})
	require.NoError(t, err)
	defer u.Close()
	register("burst", 2)
	select {
	case <-busy: // the swap to v2 has begun
	case <-time.After(time.Minute):
		t.Fatal("no swap to v2")
	}
	for i := range 16 {
		register(fmt.Sprintf("burst-other-%d", i), 1) // fills the channel
	}
	register("burst", 3) // dropped by Kind: the channel is full
	close(block)
	assert.Equal(t, "fake v2", <-swapped)
	select {
	case s := <-swapped:
		assert.Equal(t, "fake v3", s)
	case <-time.After(time.Minute): // it would never come
		t.Fatalf("the upgrade to v3 was lost: the client is %s", u)
	}
	assert.Equal(t, "fake v3", u.String())
}
