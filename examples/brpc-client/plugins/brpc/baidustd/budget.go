package baidustd

import (
	"fmt"
	"sync/atomic"
)

// DefaultBudget is the size of a [Budget] made with 0: twice
// DefaultMaxBodySize, so that a payload of the largest size fits with room
// to spare.
const DefaultBudget = 2 * DefaultMaxBodySize

// Budget bounds the bytes that decompressed payloads hold at once, across
// every goroutine that shares it, so that many small compressed payloads
// cannot together expand into more memory than the budget. A Budget may
// draw on a parent: bytes taken from it are taken from the parent too, and
// a take fails when either has too little left (a connection's budget
// within a server's, say). Decompression that cannot take what it needs
// stops with an error wrapping ErrOvercrowded; nothing waits. A Budget is
// safe for concurrent use.
type Budget struct {
	parent *Budget
	limit  int64
	used   atomic.Int64
}

// NewBudget returns a budget of n bytes (0 or negative: DefaultBudget)
// drawing on parent, if not nil.
func NewBudget(n int, parent *Budget) *Budget {
	if n <= 0 {
		n = DefaultBudget
	}
	return &Budget{parent: parent, limit: int64(n)}
}

// InUse returns the bytes taken from b and not given back.
func (b *Budget) InUse() int { return int(b.used.Load()) }

// take takes n bytes from b and its parents, or, when one of them has too
// little left, nothing, and returns that one.
func (b *Budget) take(n int64) *Budget {
	for x := b; x != nil; x = x.parent {
		if x.used.Add(n) > x.limit {
			for y := b; y != x.parent; y = y.parent {
				y.used.Add(-n)
			}
			return x
		}
	}
	return nil
}

func (b *Budget) give(n int64) {
	for x := b; x != nil; x = x.parent {
		x.used.Add(-n)
	}
}

// Lease is bytes taken from a Budget for one result. Release it once; the
// zero Lease holds nothing.
type Lease struct {
	b *Budget
	n int64
}

// grow takes n more bytes for l, or fails with an ErrOvercrowded error.
func (l *Lease) grow(n int) error {
	if l.b == nil {
		return nil
	}
	if short := l.b.take(int64(n)); short != nil {
		return fmt.Errorf("%w: decompressing needs more than the %d bytes left of a %d-byte budget",
			ErrOvercrowded, short.limit-short.used.Load(), short.limit)
	}
	l.n += int64(n)
	return nil
}

// Release gives the lease's bytes back to its budget.
func (l Lease) Release() {
	if l.b != nil && l.n > 0 {
		l.b.give(l.n)
	}
}
