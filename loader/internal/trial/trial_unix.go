//go:build unix

package trial

import (
	"os/exec"
	"syscall"
	"time"
)

// isolate puts the trial process in a process group of its own, so that a
// timeout kills it with whatever a plugin's init started, and stops
// waiting for pipes such processes may still hold a little later.
func isolate(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setParentDeath(cmd.SysProcAttr)
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
}
