//go:build unix

package runtime

import (
	"fmt"
	"os"
	"syscall"
)

// SignalNamed returns the signal of an upgrade signal's name ("SIGHUP"; see
// [CheckUpgradeSignal]), or an error where the platform has none.
func SignalNamed(name string) (os.Signal, error) {
	switch name {
	case "SIGHUP":
		return syscall.SIGHUP, nil
	case "SIGUSR1":
		return syscall.SIGUSR1, nil
	case "SIGUSR2":
		return syscall.SIGUSR2, nil
	}
	return nil, fmt.Errorf("no signal %s", name)
}
