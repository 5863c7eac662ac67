//go:build !unix

package runtime

import (
	"fmt"
	"os"
	goruntime "runtime"
)

// SignalNamed returns the signal of an upgrade signal's name ("SIGHUP"; see
// [CheckUpgradeSignal]), or an error where the platform has none: none
// outside Unix.
func SignalNamed(name string) (os.Signal, error) {
	return nil, fmt.Errorf("no signal %s on %s", name, goruntime.GOOS)
}
