//go:build linux || darwin || freebsd

package records

import (
	"io/fs"
	"os"
	"syscall"
)

// Identity returns the identity of the file fi describes.
func Identity(fi fs.FileInfo) (ID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ID{}, false
	}
	mtime, ctime := statTimes(st)
	return ID{dev: uint64(st.Dev), ino: uint64(st.Ino), size: fi.Size(), mtime: mtime, ctime: ctime}, true
}

// private reports whether path (not followed if a symbolic link) is a
// directory (dir) or a regular file that belongs to this process's user
// and that no one else can write.
func private(path string, dir bool) bool {
	fi, err := os.Lstat(path)
	if err != nil || fi.IsDir() != dir || !dir && !fi.Mode().IsRegular() || fi.Mode().Perm()&0o022 != 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}
