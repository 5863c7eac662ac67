//go:build unix

package fsx

import "syscall"

// oNonblock opens a file without waiting: opening a FIFO for reading
// would otherwise block until a writer comes.
const oNonblock = syscall.O_NONBLOCK
