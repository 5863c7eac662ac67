package loader

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
)

// verify checks the file, named path and resolved to real, against a
// recorded checksum: the Loader's ([WithSums]), else the plugink.sum in
// the file's directory (either's: path's, or real's if a link leads
// elsewhere). It returns whether a checksum verified the file; an unlisted
// file is not verified, and an error if the Loader requires checksums.
func (l *Loader) verify(path, real string) (bool, error) {
	l.mu.Lock()
	sums, required := l.sums, l.requireSums // Build replaces l.sums, never writes into it
	l.mu.Unlock()
	key := listedIn(sums, path, real)
	if key == "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return false, err
		}
		for _, dir := range []string{filepath.Dir(abs), filepath.Dir(real)} {
			ds, err := l.sumsIn(dir)
			if err != nil {
				return false, err
			}
			if key = listedIn(ds, path, real); key != "" {
				sums = ds
				break
			}
		}
	}
	if key == "" {
		if required {
			return false, fmt.Errorf("%w for %s", ErrNoChecksum, path)
		}
		return false, nil
	}
	if err := sums.Verify(key); err != nil {
		return false, err
	}
	return true, nil
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

// sumsIn returns the checksums of the plugink.sum in dir (nil if there is
// none), read once per Loader.
func (l *Loader) sumsIn(dir string) (Sums, error) {
	l.mu.Lock()
	s, done := l.dirSums[dir]
	l.mu.Unlock()
	if done {
		return s, nil
	}
	s, err := ReadSums(filepath.Join(dir, SumFile))
	if errors.Is(err, fs.ErrNotExist) {
		s, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	if l.dirSums == nil {
		l.dirSums = map[string]Sums{}
	}
	l.dirSums[dir] = s
	l.mu.Unlock()
	return s, nil
}
