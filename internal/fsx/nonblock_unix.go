//go:build unix

package fsx

import (
	"errors"
	"syscall"
)

// oNonblock opens a file without waiting: opening a FIFO for reading
// would otherwise block until a writer comes.
const oNonblock = syscall.O_NONBLOCK

// busy reports whether err is an open's refusal to wait: a lease break
// under way (EWOULDBLOCK).
func busy(err error) bool { return errors.Is(err, syscall.EWOULDBLOCK) }
