//go:build unix && !linux

package loader

import "syscall"

// setParentDeath does nothing where the kernel has no parent-death signal.
func setParentDeath(*syscall.SysProcAttr) {}
