//go:build !(cgo && (linux || freebsd || darwin))

package loader

import (
	"sync"

	"github.com/plugink/plugink/internal/fsx"
)

// selfFingerprint returns the fingerprint of pkg in this program's file:
// without cgo, a program cannot load plugins, but may still check them.
func selfFingerprint(pkg string) (string, bool) {
	fps := selfFingerprints()
	fp, ok := fps[pkg]
	return fp, ok
}

var selfFingerprints = sync.OnceValue(func() map[string]string {
	f, fi, err := fsx.Open(hostExecutable())
	if err != nil {
		return nil
	}
	defer f.Close()
	fps, _ := readFingerprints(f, fi.Size())
	return fps
})
