//go:build !(linux || darwin || freebsd)

package records

import "io/fs"

// Identity is not known here: no file is recorded.
func Identity(fs.FileInfo) (ID, bool) { return ID{}, false }

// private is false here: no record is read.
func private(string, bool) bool { return false }

// timesFollowWrites is false here: nothing is recorded.
func timesFollowWrites(string) bool { return false }
