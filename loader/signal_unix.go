//go:build unix

package loader

import (
	"fmt"
	"os"
	"syscall"
)

// signalNamed returns the signal of an upgrade signal's name.
func signalNamed(name string) (os.Signal, error) {
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
