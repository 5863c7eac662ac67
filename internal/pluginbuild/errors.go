package pluginbuild

import (
	"errors"
	"strings"
)

// Sentinel errors of a build.
var (
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

// Error reports a failed build.
type Error struct {
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
func (e *Error) Error() string {
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
func (e *Error) Unwrap() error { return e.Err }

// ErrorHint returns e.Hint.
func (e *Error) ErrorHint() string { return e.Hint }
