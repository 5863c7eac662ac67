package loader

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	goruntime "runtime"
	"runtime/debug"

	"github.com/plugink/plugink/internal/fsx"
)

// maxMapped bounds the files the loader maps; a larger one is read.
const maxMapped = 1 << 32

// mappedFile is the contents of a file mapped read-only into memory. The
// checks before a load read the file's tables through it without copying
// them: reading them into new memory cost a fresh process more than all the
// checks on them together (page faults on the new memory).
type mappedFile struct{ data []byte }

// ReadAt implements io.ReaderAt.
func (m *mappedFile) ReadAt(p []byte, off int64) (int, error) {
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

// openMapped opens the regular file at path (see fsx.Open) and maps it
// into memory, or, where that cannot be done, reads it: r reads the file
// either way. done unmaps and closes it; nothing read through r may be
// used after.
//
// A file truncated while it is mapped makes a read of the lost part fault:
// the caller must read through r only inside a function that defers
// [catchFault], with debug.SetPanicOnFault set, as [readMapped] does.
func openMapped(path string) (r io.ReaderAt, fi fs.FileInfo, done func(), err error) {
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
	return &mappedFile{data}, fi, func() { unmapFile(data); f.Close() }, nil
}

// readMapped opens the file at path with openMapped and calls read with
// it and what the open descriptor says of the file; a fault while reading
// it (the file was truncated meanwhile) becomes an error.
func readMapped(path string, read func(r io.ReaderAt, fi fs.FileInfo) error) (err error) {
	r, fi, done, err := openMapped(path)
	if err != nil {
		return err
	}
	defer done()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer catchFault(&err)
	if testHookMapped != nil {
		testHookMapped(path)
	}
	return read(r, fi)
}

// testHookMapped, if set (by a test), runs in readMapped before read;
// testHookChecking, in Load's checks once the headers are read, before the
// structure check.
var testHookMapped, testHookChecking func(path string)

// errFault reports a read of a mapped file that faulted.
var errFault = fmt.Errorf("%w: the file changed (it was truncated) while it was read", ErrNotPlugin)

// isFault reports whether the panic value r is a memory fault that
// debug.SetPanicOnFault turned into a panic.
func isFault(r any) bool {
	_, ok := r.(interface{ Addr() uintptr })
	return ok
}

// catchFault, deferred, turns a memory fault (with debug.SetPanicOnFault
// set) into errFault in *err, and another run-time error (an index out of
// range: the mapping shows a file as it is now, so a file rewritten while
// it is checked can say one thing, then another) into an error; any other
// panic goes on.
func catchFault(err *error) {
	r := recover()
	if r == nil {
		return
	}
	if isFault(r) {
		*err = errFault
		return
	}
	if re, ok := r.(goruntime.Error); ok {
		*err = fmt.Errorf("%w: malformed file (%v)", ErrNotPlugin, re)
		return
	}
	panic(r)
}
