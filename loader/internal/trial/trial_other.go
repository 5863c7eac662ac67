//go:build unix && !linux

package trial

import "syscall"

// setParentDeath does nothing where the kernel has no parent-death signal.
func setParentDeath(*syscall.SysProcAttr) {}

// becomeSubreaper does nothing here.
func becomeSubreaper() {}

// endDescendants does nothing here: what a plugin's init starts may
// outlive the trial until the timeout kills its process group.
func endDescendants() {}
