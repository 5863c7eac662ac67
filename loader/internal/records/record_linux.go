package records

import "syscall"

// statTimes returns a file's modification and change times, in
// nanoseconds.
func statTimes(st *syscall.Stat_t) (mtime, ctime int64) {
	return st.Mtim.Nano(), st.Ctim.Nano()
}

// File system magic numbers (statfs f_type) of the file systems where a
// write through a shared mapping never changes a file's times.
const (
	tmpfsMagic = 0x01021994
	ramfsMagic = 0x858458f6
)

// timesFollowWrites reports whether the file system of file sets a file's
// times when it is written through a shared mapping (at least at the
// first write after writeback): not tmpfs or ramfs.
func timesFollowWrites(file string) bool {
	var st syscall.Statfs_t
	if syscall.Statfs(file, &st) != nil {
		return false
	}
	return st.Type != tmpfsMagic && st.Type != ramfsMagic
}
