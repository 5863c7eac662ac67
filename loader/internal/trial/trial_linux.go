//go:build linux

package trial

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// setParentDeath has the kernel kill the trial process if this one dies.
func setParentDeath(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }

// prSetChildSubreaper is prctl's PR_SET_CHILD_SUBREAPER.
const prSetChildSubreaper = 36

// becomeSubreaper makes the orphans of the processes this child starts
// (a daemon's double fork, a session leader whose parent exits) its
// children, so that endDescendants finds them.
func becomeSubreaper() {
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
}

// endDescendants kills every child of this process, and reaps them, until
// none is left: as a subreaper, the orphans of those killed become its
// children and are killed in turn. Nothing a plugin's init started
// outlives the trial, nor stays a zombie under a host that does not reap.
func endDescendants() {
	self := os.Getpid()
	var ws syscall.WaitStatus
	for {
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		switch {
		case err == syscall.EINTR || pid > 0:
			continue // reaped one: look again
		case err != nil:
			return // ECHILD: no child left
		}
		for _, child := range childrenOf(self) {
			_ = syscall.Kill(child, syscall.SIGKILL)
		}
		_, _ = syscall.Wait4(-1, &ws, 0, nil)
	}
}

// childrenOf returns the processes whose parent is pid, from /proc.
func childrenOf(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, stat := range stats {
		data, err := os.ReadFile(stat)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		rest := string(data[strings.LastIndexByte(string(data), ')')+1:])
		fields := strings.Fields(rest)
		if len(fields) < 2 || fields[1] != strconv.Itoa(pid) {
			continue
		}
		if child, err := strconv.Atoi(filepath.Base(filepath.Dir(stat))); err == nil {
			out = append(out, child)
		}
	}
	return out
}
