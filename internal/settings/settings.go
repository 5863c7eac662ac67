// Package settings is plugink's one table of Go build settings: which of
// the settings runtime/debug records a plugin and its host must agree on
// (preflight compares them), which of a host's settings go build is given
// to build a plugin for it, and how each is written, as a flag or as an
// environment variable (which is also what keys build's cache). Every
// place that needs one of these facts reads it here.
package settings

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/plugink/plugink/runtime"
)

// Setting is one build setting, as runtime/debug records it.
type Setting struct {
	// Key is the setting's name in build information: "-trimpath",
	// "GOAMD64", ...
	Key string
	// Flag says the setting is a go build flag; else it is an environment
	// variable of the go command.
	Flag bool
	// Bool says the flag takes no value: it is "false" when not recorded.
	Bool bool
	// Compared says a plugin and its host must agree on it: it changes the
	// code of the packages they share.
	Compared bool
	// FromHost says how a plugin built for a host takes it from the host's
	// build information (see Build).
	FromHost fromHost
	// Arch says it is an architecture variable (GOAMD64, GOARM64, ...):
	// compared and reported right after GOARCH.
	Arch bool
}

// fromHost says how Build passes a host's setting to go build.
type fromHost int

const (
	// never: not passed.
	never fromHost = iota
	// always: passed, empty or not.
	always
	// ifSet: passed when the host records a value.
	ifSet
	// ifFile: passed when the host records a value that names an
	// existing file (-pgo).
	ifFile
)

// All is every setting plugink knows, in the order preflight reports
// differences: the platform, then the architecture variables, then the
// rest.
var All = []Setting{
	{Key: "GOOS", Compared: true, FromHost: ifSet},
	{Key: "GOARCH", Compared: true, FromHost: ifSet},
	{Key: "GO386", Arch: true, Compared: true, FromHost: ifSet},
	{Key: "GOAMD64", Arch: true, Compared: true, FromHost: ifSet},
	{Key: "GOARM", Arch: true, Compared: true, FromHost: ifSet},
	{Key: "GOARM64", Arch: true, Compared: true, FromHost: ifSet},
	{Key: "GOMIPS", Arch: true, Compared: true, FromHost: ifSet},
	{Key: "GOMIPS64", Arch: true, Compared: true, FromHost: ifSet},
	{Key: "GOPPC64", Arch: true, Compared: true, FromHost: ifSet},
	{Key: "GORISCV64", Arch: true, Compared: true, FromHost: ifSet},
	{Key: "GOWASM", Arch: true, Compared: true, FromHost: ifSet},
	{Key: "GOEXPERIMENT", Compared: true, FromHost: always},
	{Key: "GOFIPS140", Compared: true, FromHost: ifSet},
	{Key: "CGO_ENABLED", Compared: true, FromHost: ifSet},
	{Key: "-trimpath", Flag: true, Bool: true, Compared: true, FromHost: always},
	{Key: "-race", Flag: true, Bool: true, Compared: true, FromHost: always},
	{Key: "-msan", Flag: true, Bool: true, Compared: true, FromHost: always},
	{Key: "-asan", Flag: true, Bool: true, Compared: true, FromHost: always},
	{Key: "-cover", Flag: true, Bool: true, Compared: true, FromHost: always},
	{Key: "-tags", Flag: true, Compared: true, FromHost: always},
	{Key: "-gcflags", Flag: true, Compared: true, FromHost: ifSet},
	{Key: "-asmflags", Flag: true, Compared: true, FromHost: ifSet},
	{Key: "-pgo", Flag: true, Compared: true, FromHost: ifFile},
	// The C flags change no Go package's code: not compared.
	{Key: "CGO_CFLAGS", FromHost: ifSet},
	{Key: "CGO_CPPFLAGS", FromHost: ifSet},
	{Key: "CGO_CXXFLAGS", FromHost: ifSet},
	{Key: "CGO_LDFLAGS", FromHost: ifSet},
}

// BoolFlags are the go build flags that take no value: those of All, and
// others the go command has.
var BoolFlags = append(keys(func(s Setting) bool { return s.Bool }), "-a", "-linkshared")

// EnvVars are the environment variables of All, which change what go
// build makes.
var EnvVars = keys(func(s Setting) bool { return !s.Flag })

func keys(keep func(Setting) bool) []string {
	var out []string
	for _, s := range All {
		if keep(s) {
			out = append(out, s.Key)
		}
	}
	return out
}

// Get returns the setting key that bi records, "" if it records none.
func Get(bi *debug.BuildInfo, key string) string {
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

// Value returns the setting key of bi in a form that compares equal when
// two builds agree: a boolean flag not recorded is "false", -tags is
// normalized (NormalTags).
func Value(bi *debug.BuildInfo, key string) string {
	v := Get(bi, key)
	switch {
	case key == "-tags":
		return NormalTags(v)
	case v == "" && slices.ContainsFunc(All, func(s Setting) bool { return s.Key == key && s.Bool }):
		return "false"
	}
	return v
}

// NormalTags returns a comma-separated list of build tags trimmed of
// spaces, sorted, without repeats and without runtime.DynamicTag, which
// only selects plugink's generated file in a host's own package.
func NormalTags(tags string) string {
	var out []string
	for _, t := range strings.Split(tags, ",") {
		if t = strings.TrimSpace(t); t != "" && t != runtime.DynamicTag {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return strings.Join(slices.Compact(out), ",")
}

// Build returns the go build flags and environment variables that
// reproduce the settings bi records, for building a plugin that fits the
// program bi describes.
//
// A program's build information is data from a file plugink did not
// write: each value must pass its setting's allowlist (see check) before
// it reaches go build, so that a crafted binary cannot make the build run
// a program (a C compiler's -wrapper), write a file (a compiler's
// -cpuprofile) or hang (a -pgo profile that is a device). A value that
// does not pass is an error wrapping [ErrUntrusted] that names the
// setting; nothing is built.
func Build(bi *debug.BuildInfo) (flags, env []string, err error) {
	var errs []error
	for _, s := range All {
		v := Get(bi, s.Key)
		switch s.FromHost {
		case never:
			continue
		case always:
			if s.Bool {
				v = Value(bi, s.Key)
			}
		case ifSet:
			if v == "" {
				continue
			}
		case ifFile:
			if v == "" {
				continue
			}
			fi, err := os.Stat(v)
			if err != nil {
				continue // the profile is not on this machine: the plugin is built without, and preflight says so
			}
			if !fi.Mode().IsRegular() {
				errs = append(errs, fmt.Errorf("%w: %s=%s: not a regular file", ErrUntrusted, s.Key, strconv.Quote(v)))
				continue
			}
		}
		if err := check(s, v); err != nil {
			errs = append(errs, fmt.Errorf("%w: %s=%s: %w", ErrUntrusted, s.Key, strconv.Quote(v), err))
			continue
		}
		if s.Flag {
			flags = append(flags, s.Key+"="+v)
		} else {
			env = append(env, s.Key+"="+v)
		}
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return flags, env, nil
}
