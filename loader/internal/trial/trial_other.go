//go:build unix && !linux

package trial

import "syscall"

// setParentDeath does nothing where the kernel has no parent-death signal.
func setParentDeath(*syscall.SysProcAttr) {}
