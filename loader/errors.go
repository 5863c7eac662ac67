package loader

import (
	"github.com/plugink/plugink/internal/pluginbuild"
	"github.com/plugink/plugink/internal/safetext"
	"github.com/plugink/plugink/internal/sums"
	"github.com/plugink/plugink/loader/internal/hostcmp"
	"github.com/plugink/plugink/loader/internal/opened"
	"github.com/plugink/plugink/loader/internal/pluginfile"
	"github.com/plugink/plugink/loader/internal/trial"
)

// Sentinel errors wrapped by the loader's errors; test for them with
// [errors.Is]. Each error type of this package unwraps to one of them.
var (
	// ErrNotPlugin reports a file that is not a Go plugin: not an ELF (or
	// Mach-O) shared object, no Go build information, built with a
	// -buildmode other than plugin, or damaged.
	ErrNotPlugin = pluginfile.ErrNotPlugin
	// ErrPlatform reports a plugin built for another OS, architecture or
	// word size than this program.
	ErrPlatform = pluginfile.ErrPlatform
	// ErrUnsupported reports a program that cannot load Go plugins at all:
	// an OS without package plugin support, a program built with
	// CGO_ENABLED=0, or a host binary that does not link package plugin.
	ErrUnsupported = hostcmp.ErrUnsupported
	// ErrNoSymbol reports a plugin that exports no variable called Plugin.
	ErrNoSymbol = opened.ErrNoSymbol
	// ErrSymbolType reports a Plugin symbol that is not a runtime.Config.
	ErrSymbolType = opened.ErrSymbolType
	// ErrPluginPath reports a file whose pluginpath (the import path of its
	// main package) is already loaded from another file: Go can load only one
	// plugin per pluginpath into a process.
	ErrPluginPath = opened.ErrPluginPath
	// ErrReload reports a file that cannot be loaded because this process
	// loaded, or failed to load, the same path before and the file has
	// changed since: Go remembers plugins by path for the process lifetime.
	ErrReload = opened.ErrReload
	// ErrOpen reports a failure of plugin.Open itself (the dynamic linker, or
	// Go's own checks, or a panic in the plugin's init functions).
	ErrOpen = opened.ErrOpen
	// ErrTrial reports a plugin file that crashed, hung or failed when the
	// loader opened it in a child process, before opening it in this one
	// (see [WithoutTrial]).
	ErrTrial = trial.ErrTrial
	// ErrMismatch is wrapped by [MismatchError].
	ErrMismatch = hostcmp.ErrMismatch
	// ErrChecksum is wrapped by [ChecksumError].
	ErrChecksum = sums.ErrChecksum
	// ErrNoChecksum reports a file that has no recorded checksum while the
	// Loader requires one ([WithSumsRequired]).
	ErrNoChecksum = sums.ErrNoChecksum
)

// The error types of the checks before a load, and of a build.
type (
	// MismatchError lists every way a plugin's build differs from the
	// host's in a way that makes plugin.Open fail (or fail with a
	// misleading message): see [Preflight].
	MismatchError = hostcmp.MismatchError
	// Difference is one build setting, module or package that a plugin
	// and its host disagree on.
	Difference = hostcmp.Difference
	// ChecksumError reports a file whose SHA-256 is not the one recorded.
	ChecksumError = sums.ChecksumError
	// BuildError reports a failed [Loader.Build]; a failed compilation
	// carries the compiler's output.
	BuildError = pluginbuild.Error
)

// LoadError reports a failure to load, register, check or inspect one
// plugin file.
type LoadError struct {
	// Op is "load", "init", "preflight" or "inspect".
	Op string
	// Path is the file, as the caller named it.
	Path string
	// Err is what went wrong; it wraps a sentinel error above, a
	// *runtime.Error for "init", or an error from the file system.
	Err error
	// Hint says what to do about it, if the message does not; see
	// runtime.Hints.
	Hint string
}

// Error implements error.
func (e *LoadError) Error() string { return e.Op + " " + safetext.Name(e.Path) + ": " + e.Err.Error() }

// Unwrap returns e.Err.
func (e *LoadError) Unwrap() error { return e.Err }

// ErrorHint returns e.Hint.
func (e *LoadError) ErrorHint() string { return e.Hint }
