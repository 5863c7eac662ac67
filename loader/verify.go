package loader

import (
	"errors"
	"fmt"

	"github.com/plugink/plugink/internal/self"
	"github.com/plugink/plugink/internal/sums"
	"github.com/plugink/plugink/runtime"
)

// verify checks the file, named path and resolved to real, against a
// recorded checksum: the Loader's ([WithSums]), else the plugink.sum in
// the file's directory (either's: path's, or real's if a link leads
// elsewhere). It returns whether a checksum verified the file; an unlisted
// file is not verified, and an error if the Loader requires checksums.
// signedSum, if set, is the SHA-256 of a signed file: see verifySum.
func (l *Loader) verify(path, real, signedSum string) (bool, error) {
	if signedSum != "" {
		return l.verifySum(path, real, signedSum, true, l.dirSums.In)
	}
	sums, key, err := l.recorded(path, real, l.dirSums.In)
	if err != nil || key == "" {
		return false, err
	}
	if err := sums.Verify(key); err != nil {
		return false, err
	}
	return true, nil
}

// verifySum checks sum, the SHA-256 of the file named path and resolved
// to real, against the checksum recorded for it (see recorded), and
// returns whether it is verified. A signed file is, if no checksum
// disagrees: none recorded is no error, even if required.
func (l *Loader) verifySum(path, real, sum string, signed bool, dirSums func(dir string) (Sums, error)) (bool, error) {
	sums, key, err := l.recorded(path, real, dirSums)
	if signed && errors.Is(err, ErrNoChecksum) {
		err = nil
	}
	if err != nil || key == "" {
		return signed && err == nil, err
	}
	if want, _ := sums.Lookup(key); want != sum {
		return false, &ChecksumError{Path: path, Want: want, Got: sum}
	}
	return true, nil
}

// recorded finds the checksum recorded for the file named path and
// resolved to real (see sums.Find): in the Loader's sums, else in the
// plugink.sum of path's directory or of real's, as dirSums returns them. It
// returns the sums that list the file and its key there, "" if none does
// (an error if the Loader requires checksums).
func (l *Loader) recorded(path, real string, dirSums func(dir string) (Sums, error)) (Sums, string, error) {
	l.mu.Lock()
	given, required := l.sums, l.requireSums // Build replaces l.sums, never writes into it
	l.mu.Unlock()
	s, key, err := sums.Find(given, path, real, dirSums)
	if err == nil && key == "" && required {
		err = l.noChecksum(path)
	}
	return s, key, err
}

// noChecksum says why the file at path, which no checksum lists, is
// refused: the manifest's dynamic.require_sums, if that is why, with the
// command that writes plugink.sum.
func (l *Loader) noChecksum(path string) error {
	if l.requiredBy == "" {
		return fmt.Errorf("%w for %s", ErrNoChecksum, path)
	}
	hint := fmt.Sprintf("plugink build, in the directory of %s, writes plugink.sum beside the plugins", l.requiredBy)
	if bi, err := self.BuildInfo(); err == nil {
		if dir, ok := self.MainPackageDir(bi); ok {
			hint = fmt.Sprintf("from the root of module %s: plugink build -C %s (it writes plugink.sum beside the plugins)", bi.Main.Path, dir)
		}
	}
	return runtime.WithHint(fmt.Errorf("%w: dynamic.require_sums is true in %s and no plugink.sum lists %s", ErrNoChecksum, l.requiredBy, path), hint)
}
