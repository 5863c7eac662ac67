// Package snapshot makes the private copy of a plugin file that an
// upgrade opens: the bytes checked, hashed and opened are then the same,
// whatever happens to the file meanwhile, and every copy has a name that
// no file opened before had.
package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"

	"github.com/plugink/plugink/internal/fsx"
	"github.com/plugink/plugink/loader/internal/pluginfile"
)

// MaxSize bounds the size of a file Take copies: Go plugins are tens of
// megabytes; a file claiming more is not copied.
const MaxSize = 1 << 30

// Take copies the file at real, once its headers show a plugin file,
// into a new private directory (mode 0700), under a name no other copy has
// had (package plugin and the dynamic linker both know a loaded file by
// its name). The directory is made beside real, where plugins are known
// to be executable, or else in os.TempDir (which may be mounted noexec).
// It returns the copy's path, its SHA-256, and the function that removes
// the directory: once the copy is opened, its mapping outlives its name.
func Take(real string) (copyPath, sum string, cleanup func(), err error) {
	src, fi, err := fsx.Open(real)
	if err != nil {
		return "", "", nil, err
	}
	defer src.Close()
	if fi.Size() > MaxSize {
		return "", "", nil, fmt.Errorf("%w: %d bytes, over the %d a snapshot copies", fsx.ErrTooLarge, fi.Size(), MaxSize)
	}
	if _, err := pluginfile.Read(src, fi.Size()); err != nil {
		return "", "", nil, err
	}
	dir, err := os.MkdirTemp(filepath.Dir(real), ".plugink-upgrade-")
	if err != nil {
		if dir, err = os.MkdirTemp("", "plugink-upgrade-"); err != nil {
			return "", "", nil, fmt.Errorf("a directory for the copy to open: %w", err)
		}
	}
	cleanup = func() { os.RemoveAll(dir) }
	name := filepath.Join(dir, strconv.FormatUint(copies.Add(1), 10)+"-"+filepath.Base(real))
	dst, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o500)
	if err != nil {
		cleanup()
		return "", "", nil, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(dst, h), io.NewSectionReader(src, 0, MaxSize+1))
	if err == nil && n > MaxSize {
		err = fmt.Errorf("%w: grew past the %d bytes a snapshot copies", fsx.ErrTooLarge, MaxSize)
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		cleanup()
		return "", "", nil, fmt.Errorf("copy %s: %w", real, err)
	}
	return name, hex.EncodeToString(h.Sum(nil)), cleanup, nil
}

// copies numbers the copies of this process: a name package plugin
// has seen is never used again.
var copies atomic.Uint64
