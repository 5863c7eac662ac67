//go:build darwin || freebsd

package records

import "syscall"

// statTimes returns a file's modification and change times, in
// nanoseconds.
func statTimes(st *syscall.Stat_t) (mtime, ctime int64) {
	return st.Mtimespec.Nano(), st.Ctimespec.Nano()
}

// timesFollowWrites is true here: no file system is known not to.
func timesFollowWrites(string) bool { return true }
