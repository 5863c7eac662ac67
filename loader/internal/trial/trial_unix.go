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

// readSpec reads Run's spec from descriptor 4, if it is a pipe that holds
// one whole, without waiting: Run wrote it and closed its end before the
// child started. It closes descriptor 4 either way, unless it is not a
// pipe (then it is the program's own).
func readSpec(nonce string) (string, bool) {
	const fd = 4
	var st syscall.Stat_t
	if syscall.Fstat(fd, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFIFO {
		return "", false
	}
	defer syscall.Close(fd)
	if syscall.SetNonblock(fd, true) != nil {
		return "", false
	}
	buf := make([]byte, maxSpec+1)
	n := 0
	for n < len(buf) {
		k, err := syscall.Read(fd, buf[n:])
		if k <= 0 || err != nil {
			if err == nil && k == 0 { // end of the pipe: the spec is whole
				return parseSpec(buf[:n], nonce)
			}
			return "", false // nothing more to read now (EAGAIN), or an error
		}
		n += k
	}
	return "", false // over maxSpec
}

// closeOnExec keeps fd from the programs the plugin's init may execute.
func closeOnExec(fd int) { syscall.CloseOnExec(fd) }
