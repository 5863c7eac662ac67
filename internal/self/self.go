// Package self answers what plugink needs to know of the running program:
// the file it runs from, its Go build information and the version of
// plugink it links. Each fact has one rule here, read once.
package self

import (
	"errors"
	"os"
	"runtime/debug"
	"sync"

	"github.com/plugink/plugink/runtime"
)

// Module is plugink's module path.
const Module = "github.com/plugink/plugink"

// Executable returns the file of the running program, for what cannot be
// asked of the dynamic linker: /proc/self/exe where it exists, else what
// os.Executable says.
func Executable() string {
	if _, err := os.Stat("/proc/self/exe"); err == nil {
		return "/proc/self/exe"
	}
	exe, _ := os.Executable()
	return exe
}

// BuildInfo returns this program's Go build information, read once.
var BuildInfo = sync.OnceValues(func() (*debug.BuildInfo, error) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil, runtime.WithHint(errors.New("this program has no Go build information, so plugins cannot be checked against it"), "build the program with module support, or load with loader.WithoutPreflight")
	}
	return bi, nil
})

// PluginkVersion returns the version of plugink linked into this program
// (its replacement's, if it is replaced by a version), "" if unknown.
func PluginkVersion() string {
	bi, err := BuildInfo()
	if err != nil {
		return ""
	}
	return ModuleVersion(bi, Module)
}

// ModuleVersion returns the version of the module path that bi records
// (its replacement's, if it is replaced by a version), "" if bi does not
// link it.
func ModuleVersion(bi *debug.BuildInfo, path string) string {
	for _, m := range append([]*debug.Module{&bi.Main}, bi.Deps...) {
		if m.Path == path {
			if m.Replace != nil && m.Replace.Version != "" {
				return m.Replace.Version
			}
			return m.Version
		}
	}
	return ""
}
