// Package fsx is how plugink reads and writes files: every file the loader,
// the generator and the command read is opened by [Open] (regular files
// only, never blocking on a FIFO or a device) and read within a size limit;
// every file they write is written by [WriteFiles] (all or nothing, through
// temporary files and renames). It imports only the standard library, so
// that programs linking the loader link nothing else.
package fsx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrNotRegular reports a path that is not a regular file: a directory, a
// FIFO, a device or a socket, which a read could block on or never end.
var ErrNotRegular = errors.New("not a regular file")

// ErrLeased reports a file that another process holds a lease on: it is
// changing the file, and a blocking open would wait for it (45 seconds by
// default on Linux).
var ErrLeased = errors.New("another process holds a lease on the file (it is changing it)")

// ErrTooLarge reports a file larger than the reader's limit.
var ErrTooLarge = errors.New("file too large")

// Open opens the regular file at path for reading, following symbolic
// links, and returns it with its FileInfo. Anything else is an error
// wrapping [ErrNotRegular]: the file is checked before it is opened (so a
// FIFO is never opened), opened without blocking, and checked again after,
// so that a file swapped in between is refused too. Errors are
// *fs.PathError values naming path.
func Open(path string) (*os.File, fs.FileInfo, error) {
	before, err := os.Stat(path)
	if pe, ok := err.(*fs.PathError); ok {
		pe.Op = "open" // what the caller asked for
	}
	if err != nil {
		return nil, nil, err
	}
	if err := regular(path, before); err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|oNonblock, 0)
	if err != nil {
		if busy(err) {
			err = &fs.PathError{Op: "open", Path: path, Err: ErrLeased}
		}
		return nil, nil, err
	}
	after, err := f.Stat()
	if err == nil {
		err = regular(path, after)
	}
	if err == nil && !os.SameFile(before, after) {
		err = &fs.PathError{Op: "open", Path: path, Err: errors.New("file replaced while being opened")}
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, after, nil
}

func regular(path string, fi fs.FileInfo) error {
	if fi.Mode().IsRegular() {
		return nil
	}
	what := "a directory"
	if !fi.IsDir() {
		what = fi.Mode().Type().String()
	}
	return &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w (%s)", ErrNotRegular, what)}
}

// ReadFile reads the regular file at path, which must hold at most limit
// bytes (an error wrapping [ErrTooLarge] otherwise).
func ReadFile(path string, limit int64) ([]byte, error) {
	f, fi, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() > limit {
		return nil, tooLarge(path, limit)
	}
	// Read one byte past the limit: the file may have grown since Stat.
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	if int64(len(data)) > limit {
		return nil, tooLarge(path, limit)
	}
	return data, nil
}

func tooLarge(path string, limit int64) error {
	return &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: over %d bytes", ErrTooLarge, limit)}
}

// maxReplaced bounds the size of a file WriteFiles replaces: it reads the
// old content, to compare it and to put it back on error.
const maxReplaced = 64 << 20

// File is a file for [WriteFiles] to write: its path and whole content.
type File struct {
	// Path is where the file goes.
	Path string
	// Data is its whole content.
	Data []byte
	// Mode is its permission bits; 0 means 0644.
	Mode fs.FileMode
}

// WriteFiles writes the files together, each with its Mode: each to a
// temporary file in its directory first, and only when all are written,
// renamed over the old ones. On error the files on disk are as they were
// (a rename that fails part way through puts back the files already
// renamed) and no temporary file is left. A file whose content is
// unchanged is not touched, so its modification time stays.
func WriteFiles(files ...File) error {
	type staged struct {
		path, tmp string
		old       []byte // nil: the file did not exist
	}
	var todo []staged
	removeTemps := func(from int) {
		for _, s := range todo[from:] {
			os.Remove(s.tmp)
		}
	}
	for _, f := range files {
		old, err := ReadFile(f.Path, maxReplaced)
		switch {
		case err == nil && bytes.Equal(old, f.Data):
			continue
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			removeTemps(0)
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		tmp, err := writeTemp(f.Path, f.Data, mode)
		if err != nil {
			removeTemps(0)
			return err
		}
		todo = append(todo, staged{path: f.Path, tmp: tmp, old: old})
	}
	for i, s := range todo {
		if err := os.Rename(s.tmp, s.path); err != nil {
			removeTemps(i)
			errs := []error{fmt.Errorf("write %s: %w", s.path, err)}
			for _, done := range todo[:i] {
				errs = append(errs, restore(done.path, done.old))
			}
			return errors.Join(errs...)
		}
	}
	return nil
}

// restore puts back the content a file had before WriteFiles replaced it,
// or removes it if it did not exist.
func restore(path string, old []byte) error {
	var err error
	if old == nil {
		err = os.Remove(path)
	} else {
		err = WriteFiles(File{Path: path, Data: old})
	}
	if err != nil {
		return fmt.Errorf("undo write of %s: %w", path, err)
	}
	return nil
}

// writeTemp writes data to a new temporary file beside path, with the
// given mode, and returns its name; on error it leaves no file.
func writeTemp(path string, data []byte, mode fs.FileMode) (name string, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return "", err
	}
	if err = tmp.Chmod(mode); err != nil {
		return "", err
	}
	if err = tmp.Close(); err != nil {
		return "", err
	}
	return tmp.Name(), nil
}
