//go:build linux

package trial

import "syscall"

// setParentDeath has the kernel kill the trial process if this one dies.
func setParentDeath(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
