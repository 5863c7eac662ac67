// Package self answers what plugink needs to know of the running program:
// the file it runs from, its Go build information and the version of
// plugink it links. Each fact has one rule here, read once.
package self

import (
	"errors"
	"os"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/plugink/plugink/runtime"
)

// Module is plugink's module path.
const Module = "github.com/plugink/plugink"

// Executable returns the file of the running program, for what cannot be
// asked of the dynamic linker: /proc/self/exe where it exists, else what
// os.Executable says. A program started by running the dynamic linker
// (ld-linux-x86-64.so.2 ./prog, as on noexec mounts) is the file the
// dynamic linker mapped as the program, not the dynamic linker.
func Executable() string {
	path, _ := start()
	if path == procExe {
		if prog := viaDynamicLinker(); prog != "" {
			return prog
		}
	}
	return path
}

// Command returns how to start this program again: the file to execute
// and the arguments that come before the program's own. It is the
// program's file, with none; for a program started by running the
// dynamic linker, the dynamic linker, with the program's file.
func Command() (path string, args []string) {
	path, _ = start()
	if path == procExe {
		if prog := viaDynamicLinker(); prog != "" {
			return path, []string{prog}
		}
	}
	return path, nil
}

// procExe is Linux's link to the running program's file.
const procExe = "/proc/self/exe"

// start returns the file the kernel executed to start this process.
func start() (string, error) {
	if _, err := os.Stat(procExe); err == nil {
		return procExe, nil
	}
	return os.Executable()
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

// Modules returns the modules bi records: the main module (if it has a
// path), then the dependencies.
func Modules(bi *debug.BuildInfo) []*debug.Module {
	mods := make([]*debug.Module, 0, len(bi.Deps)+1)
	if bi.Main.Path != "" {
		mods = append(mods, &bi.Main)
	}
	return append(mods, bi.Deps...)
}

// ModuleVersion returns the version of the module path that bi records
// (its replacement's, if it is replaced by a version), "" if bi does not
// link it.
func ModuleVersion(bi *debug.BuildInfo, path string) string {
	for _, m := range Modules(bi) {
		if m.Path == path {
			if m.Replace != nil && m.Replace.Version != "" {
				return m.Replace.Version
			}
			return m.Version
		}
	}
	return ""
}

// MainPackageDir returns the directory of bi's main package relative to
// the root of its main module, slash-separated ("cmd/svc", or "." for
// the root), if bi tells it: not for a test binary, or a program built
// from files named on the command line.
func MainPackageDir(bi *debug.BuildInfo) (string, bool) {
	if bi.Main.Path == "" {
		return "", false
	}
	if bi.Path == bi.Main.Path {
		return ".", true
	}
	dir, ok := strings.CutPrefix(bi.Path, bi.Main.Path+"/")
	if !ok || strings.HasSuffix(dir, ".test") {
		return "", false
	}
	return dir, true
}
