package sums

import (
	"errors"
	"io/fs"
	"path/filepath"
	"sync"
)

// InDir returns the checksums of the plugink.sum in dir, read now; nil if
// there is none.
func InDir(dir string) (Sums, error) {
	s, err := Read(filepath.Join(dir, FileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return s, err
}

// Dirs reads the plugink.sum of each directory once, as InDir does, and
// keeps it. The zero value is ready to use, and safe for concurrent use.
type Dirs struct {
	mu   sync.Mutex
	read map[string]Sums
}

// In returns the checksums of the plugink.sum in dir, read once.
func (d *Dirs) In(dir string) (Sums, error) {
	d.mu.Lock()
	s, done := d.read[dir]
	d.mu.Unlock()
	if done {
		return s, nil
	}
	s, err := InDir(dir)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if d.read == nil {
		d.read = map[string]Sums{}
	}
	d.read[dir] = s
	d.mu.Unlock()
	return s, nil
}

// Find returns the checksums that list the file named path and resolved
// to real, and its key there: given, if it lists the file (by either
// name), else the plugink.sum of path's directory, else that of real's,
// as in reads them. The key is "" when none lists it.
func Find(given Sums, path, real string, in func(dir string) (Sums, error)) (Sums, string, error) {
	if key := listedIn(given, path, real); key != "" {
		return given, key, nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, "", err
	}
	for _, dir := range []string{filepath.Dir(abs), filepath.Dir(real)} {
		s, err := in(dir)
		if err != nil {
			return nil, "", err
		}
		if key := listedIn(s, path, real); key != "" {
			return s, key, nil
		}
	}
	return nil, "", nil
}

// listedIn returns the first of paths that s has a checksum for, or "".
func listedIn(s Sums, paths ...string) string {
	for _, p := range paths {
		if _, ok := s.Lookup(p); ok {
			return p
		}
	}
	return ""
}
