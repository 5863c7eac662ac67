//go:build !(linux || darwin || freebsd)

package mapped

import (
	"errors"
	"os"
)

// mapFile is not supported here: the file is read instead.
func mapFile(*os.File, int) ([]byte, error) { return nil, errors.ErrUnsupported }

// unmapFile undoes mapFile.
func unmapFile([]byte) {}
