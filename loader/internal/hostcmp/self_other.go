//go:build !(cgo && (linux || freebsd || darwin))

package hostcmp

import (
	"sync"

	"github.com/plugink/plugink/internal/fsx"
	"github.com/plugink/plugink/internal/self"
	"github.com/plugink/plugink/loader/internal/pluginfile"
)

// selfFingerprint returns the fingerprint of pkg in this program's file:
// without cgo, a program cannot load plugins, but may still check them.
func selfFingerprint(pkg string) (string, bool) {
	fps := selfFingerprints()
	fp, ok := fps[pkg]
	return fp, ok
}

var selfFingerprints = sync.OnceValue(func() map[string]string {
	f, fi, err := fsx.Open(self.Executable())
	if err != nil {
		return nil
	}
	defer f.Close()
	fps, _ := pluginfile.ReadFingerprints(f, fi.Size())
	return fps
})
