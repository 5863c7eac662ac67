// Package mapped reads a file through a read-only mapping of it, so that
// checks can read large tables without copying them, and turns the fault
// that a file cut short meanwhile would raise into an error.
package mapped

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	goruntime "runtime"
	"runtime/debug"

	"github.com/plugink/plugink/internal/fsx"
)

// maxMapped bounds the files Read maps; a larger one is read.
const maxMapped = 1 << 32

// File is the contents of a file mapped read-only into memory. The checks
// before a load read the file's tables through it without copying them:
// reading them into new memory cost a fresh process more than all the
// checks on them together (page faults on the new memory).
type File struct{ data []byte }

// Bytes returns the mapped contents. The caller must not modify them, nor
// use them after the function given to Read returns.
func (m *File) Bytes() []byte { return m.data }

// ReadAt implements io.ReaderAt.
func (m *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= int64(len(m.data)) {
		return 0, io.EOF
	}
	n := copy(p, m.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// open opens the regular file at path (see fsx.Open) and maps it
// into memory, or, where that cannot be done, reads it: r reads the file
// either way. done unmaps and closes it; nothing read through r may be
// used after.
//
// A file truncated while it is mapped makes a read of the lost part fault:
// the caller must read through r only inside a function that defers
// catchFault, with debug.SetPanicOnFault set, as [Read] does.
func open(path string) (r io.ReaderAt, fi fs.FileInfo, done func(), err error) {
	f, fi, err := fsx.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	size := fi.Size()
	if size <= 0 || size > maxMapped {
		return f, fi, func() { f.Close() }, nil
	}
	data, err := mapFile(f, int(size))
	if err != nil {
		return f, fi, func() { f.Close() }, nil
	}
	return &File{data}, fi, func() { unmapFile(data); f.Close() }, nil
}

// Read opens the regular file at path (see fsx.Open), maps it (or, where
// that cannot be done, reads it) and calls read with it and what the open
// descriptor says of the file; nothing read through r may be used after
// read returns. A fault while reading it (the file was truncated
// meanwhile) becomes an error wrapping [ErrTruncated]; a run-time error
// in read (an index out of range: the mapping shows a file as it is now,
// so a file rewritten while it is read can say one thing, then another)
// one wrapping [ErrChanged].
func Read(path string, read func(r io.ReaderAt, fi fs.FileInfo) error) (err error) {
	r, fi, done, err := open(path)
	if err != nil {
		return err
	}
	defer done()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer catchFault(&err)
	if TestHook != nil {
		TestHook(path)
	}
	return read(r, fi)
}

// TestHook, if set (by a test), runs in Read before read.
var TestHook func(path string)

// ErrTruncated reports a read of a mapped file that faulted.
var ErrTruncated = errors.New("the file changed (it was truncated) while it was read")

// ErrChanged reports a run-time error while reading a mapped file.
var ErrChanged = errors.New("malformed file")

// IsFault reports whether the panic value r is a memory fault that
// debug.SetPanicOnFault turned into a panic.
func IsFault(r any) bool {
	_, ok := r.(interface{ Addr() uintptr })
	return ok
}

// catchFault, deferred, turns a memory fault (with debug.SetPanicOnFault
// set) into ErrTruncated in *err, and another run-time error into an
// error wrapping ErrChanged; any other panic goes on.
func catchFault(err *error) {
	r := recover()
	if r == nil {
		return
	}
	if IsFault(r) {
		*err = ErrTruncated
		return
	}
	if re, ok := r.(goruntime.Error); ok {
		*err = fmt.Errorf("%w (%v)", ErrChanged, re)
		return
	}
	panic(r)
}
