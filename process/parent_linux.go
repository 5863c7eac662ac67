package process

import (
	"os/exec"
	"syscall"
)

// setParentDeath makes the kernel kill the plugin process if the host dies
// first.
func setParentDeath(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
