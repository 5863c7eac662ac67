package client

import (
	"context"
	"errors"
	"sync"

	"google.golang.org/protobuf/proto"
)

// Upgrading is a Client that follows its implementation's upgrades. It
// calls through a client built from the constructor [Kind] has under its
// name; when Kind registers a new constructor under that name (a plugin
// upgraded to a new generation: see plugink's loader.Loader.Upgrade), it
// builds a client from the new constructor and sends later calls there,
// and closes the old client once the calls it was making have returned.
// No call fails because of the switch.
type Upgrading struct {
	name     string
	opts     []Option
	changed  chan string
	stopped  chan struct{} // closed by Close: follow returns
	followed chan struct{} // closed when follow has returned
	retiring sync.WaitGroup
	onSwap   func(Client)

	mu     sync.RWMutex // held for reading to take cur, for writing to change it
	cur    *generation
	closed bool
}

// generation is one client of an Upgrading, and the calls it makes.
type generation struct {
	c     Client
	calls sync.WaitGroup
}

// ErrClosed reports a call on an Upgrading after Close.
var ErrClosed = errors.New("client closed")

// NewUpgrading returns an Upgrading client of the implementation name,
// built with opts. onSwap, if not nil, is called with each new client
// after calls have moved to it, never after Close has returned. It runs
// on the goroutine that follows upgrades, which Close waits for: onSwap
// must not call Close, nor wait for a goroutine that does.
func NewUpgrading(name string, onSwap func(Client), opts ...Option) (*Upgrading, error) {
	// Kind sends the name of every implementation of the kind registered,
	// and drops it if the channel is full (follow then treats any name as
	// u's).
	changed := make(chan string, 16)
	Kind.Notify(changed) // before Get: an upgrade in between is not missed
	newClient, err := Kind.Get(name)
	if err != nil {
		Kind.StopNotify(changed)
		return nil, err
	}
	u := &Upgrading{name: name, opts: opts, changed: changed, stopped: make(chan struct{}), followed: make(chan struct{}), onSwap: onSwap,
		cur: &generation{c: newClient(opts...)}}
	go u.follow()
	return u, nil
}

// follow builds a new client each time Kind tells of a change to u's
// implementation, until Close.
func (u *Upgrading) follow() {
	defer close(u.followed)
	for {
		select {
		case <-u.stopped:
			return
		case name := <-u.changed:
			// Kind drops a name it cannot send without blocking: if the
			// channel was full, the name dropped may have been u's, so
			// then any name counts as u's.
			if name != u.name && len(u.changed) < cap(u.changed)-1 {
				continue
			}
			newClient, err := Kind.Get(u.name)
			if err != nil {
				continue // only registrations are told: cannot happen
			}
			next := &generation{c: newClient(u.opts...)}
			u.mu.Lock()
			if u.closed {
				u.mu.Unlock()
				next.c.Close()
				return
			}
			old := u.cur
			u.cur = next
			u.mu.Unlock()
			u.retiring.Go(func() {
				old.calls.Wait() // every call that took old has begun: it took it under mu
				old.c.Close()
			})
			if u.onSwap != nil {
				u.onSwap(next.c)
			}
		}
	}
}

// Call makes the call through the current client.
func (u *Upgrading) Call(ctx context.Context, service, method string, req, rsp proto.Message, opts ...CallOption) error {
	u.mu.RLock()
	if u.closed {
		u.mu.RUnlock()
		return ErrClosed
	}
	g := u.cur
	g.calls.Add(1)
	u.mu.RUnlock()
	defer g.calls.Done()
	return g.c.Call(ctx, service, method, req, rsp, opts...)
}

// Close stops following upgrades and closes the current client once its
// calls have returned, and the clients of earlier generations once
// theirs have.
func (u *Upgrading) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	g := u.cur
	u.mu.Unlock()
	Kind.StopNotify(u.changed)
	close(u.stopped)
	<-u.followed // no swap, and no onSwap, from now on
	g.calls.Wait()
	err := g.c.Close()
	u.retiring.Wait()
	return err
}

// String names the current client.
func (u *Upgrading) String() string {
	u.mu.RLock()
	defer u.mu.RUnlock()
	return u.cur.c.String()
}
