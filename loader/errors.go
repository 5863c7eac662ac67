package loader

import (
	"errors"
	"strings"
)

// Sentinel errors wrapped by the loader's errors; test for them with
// [errors.Is]. Each error type of this package unwraps to one of them.
var (
	// ErrNotPlugin reports a file that is not a Go plugin: not an ELF (or
	// Mach-O) shared object, no Go build information, or built with a
	// -buildmode other than plugin.
	ErrNotPlugin = errors.New("not a Go plugin")
	// ErrPlatform reports a plugin built for another OS, architecture or
	// word size than this program.
	ErrPlatform = errors.New("built for another platform")
	// ErrUnsupported reports a program that cannot load Go plugins at all:
	// an OS without package plugin support, or a program built with
	// CGO_ENABLED=0.
	ErrUnsupported = errors.New("this program cannot load Go plugins")
	// ErrNoSymbol reports a plugin that exports no variable called Plugin.
	ErrNoSymbol = errors.New("no symbol Plugin")
	// ErrSymbolType reports a Plugin symbol that is not a runtime.Config.
	ErrSymbolType = errors.New("symbol Plugin has the wrong type")
	// ErrPluginPath reports a file whose pluginpath (the import path of its
	// main package) is already loaded from another file: Go can load only one
	// plugin per pluginpath into a process.
	ErrPluginPath = errors.New("pluginpath already loaded from another file")
	// ErrReload reports a file that cannot be loaded because this process
	// loaded, or failed to load, the same path before and the file has
	// changed since: Go remembers plugins by path for the process lifetime.
	ErrReload = errors.New("cannot load a changed plugin file again in this process")
	// ErrOpen reports a failure of plugin.Open itself (the dynamic linker, or
	// Go's own checks, or a panic in the plugin's init functions).
	ErrOpen = errors.New("plugin.Open failed")
	// ErrMismatch is wrapped by [MismatchError].
	ErrMismatch = errors.New("built differently from the host")
	// ErrChecksum is wrapped by [ChecksumError].
	ErrChecksum = errors.New("checksum mismatch")
	// ErrNoChecksum reports a file that has no recorded checksum while the
	// Loader requires one ([WithSumsRequired]).
	ErrNoChecksum = errors.New("no checksum recorded")

	// ErrNoToolchain reports that Build found no go command.
	ErrNoToolchain = errors.New("no go toolchain")
	// ErrNoCgo reports that Build cannot use cgo (CGO_ENABLED=0, or no C
	// compiler), which -buildmode=plugin needs.
	ErrNoCgo = errors.New("cgo is not available")
	// ErrGoVersion reports a go command whose version differs from the
	// host's, so the plugin it built could not load into the host.
	ErrGoVersion = errors.New("go toolchain version differs from the host's")
	// ErrNotModule reports a build directory outside any Go module.
	ErrNotModule = errors.New("not in a Go module")
	// ErrCompile reports a failed go build; [BuildError.Output] holds what
	// the compiler printed.
	ErrCompile = errors.New("go build failed")
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
func (e *LoadError) Error() string { return e.Op + " " + e.Path + ": " + e.Err.Error() }

// Unwrap returns e.Err.
func (e *LoadError) Unwrap() error { return e.Err }

// ErrorHint returns e.Hint.
func (e *LoadError) ErrorHint() string { return e.Hint }

// BuildError reports a failed [Loader.Build].
type BuildError struct {
	// Plugin is the plugin being built, as "type/name".
	Plugin string
	// Path is the output file.
	Path string
	// Args is the go command line that failed, if it got that far.
	Args []string
	// Output is what the go command printed, if it ran. It names the
	// generated main package's file as <module>/_plugink/<type>/<name>/main.go,
	// the path the go command compiles it under.
	Output string
	// Source is the generated main package, if Build got that far.
	Source []byte
	// Err wraps one of ErrNoToolchain, ErrNoCgo, ErrGoVersion, ErrNotModule,
	// ErrCompile, runtime.ErrInvalid or a file system error.
	Err error
	// Hint says what to do about it, if the message does not.
	Hint string
}

// Error implements error. The go command's output, if any, follows on the
// next lines.
func (e *BuildError) Error() string {
	var b strings.Builder
	b.WriteString("build ")
	b.WriteString(e.Plugin)
	if e.Path != "" {
		b.WriteString(" (" + e.Path + ")")
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	if out := strings.TrimSpace(e.Output); out != "" {
		b.WriteString(":\n")
		b.WriteString(out)
	}
	return b.String()
}

// Unwrap returns e.Err.
func (e *BuildError) Unwrap() error { return e.Err }

// ErrorHint returns e.Hint.
func (e *BuildError) ErrorHint() string { return e.Hint }
