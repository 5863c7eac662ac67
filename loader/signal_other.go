//go:build !unix

package loader

import (
	"fmt"
	"os"
	goruntime "runtime"
)

// signalNamed returns the signal of an upgrade signal's name: none outside
// Unix.
func signalNamed(name string) (os.Signal, error) {
	return nil, fmt.Errorf("no signal %s on %s", name, goruntime.GOOS)
}
