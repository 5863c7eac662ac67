// Package hostcmp compares a plugin file with the program it is to load
// into (its host): the Go version, the build settings that change shared
// code (package settings), the versions of the modules both link, and the
// fingerprint of every package both link, the check plugin.Open makes.
// Every difference is reported at once, in a *MismatchError.
package hostcmp

import (
	"cmp"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/plugink/plugink/internal/safetext"
	"github.com/plugink/plugink/internal/self"
	"github.com/plugink/plugink/internal/settings"
	"github.com/plugink/plugink/loader/internal/pluginfile"
)

// MismatchError lists every way a plugin's build differs from the host's in
// a way that makes plugin.Open fail (or fail with a misleading message).
type MismatchError struct {
	// Path is the plugin file.
	Path string
	// Diffs are the differences: the Go version first, then build settings,
	// then modules sorted by path, then packages sorted by import path.
	Diffs []Difference
}

// Difference is one build setting or module that a plugin and its host
// disagree on.
type Difference struct {
	// What is "go" (the toolchain version), a build setting as
	// runtime/debug records it ("-trimpath", "-race", "-tags", "GOAMD64",
	// "CGO_ENABLED", ...), "module <path>", or "package <import path>".
	What string
	// Plugin and Host are the two values. A module is written as its
	// version, then its checksum, then " => " and its replacement, if any;
	// a package as its fingerprint, in hex.
	Plugin, Host string
}

// String returns "What: plugin <value>, host <value>", with what a
// terminal could take for a control escaped (the values come from files).
func (d Difference) String() string {
	return safetext.Escape(fmt.Sprintf("%s: plugin %s, host %s", d.What, orNone(d.Plugin), orNone(d.Host)))
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Error implements error. It lists every difference on one line. When the
// Go version or a build setting differs, every package differs as a
// result: it says so first and counts the packages; else it names the
// first maxPackageDiffs differing packages and counts the rest. Diffs
// holds them all.
func (e *MismatchError) Error() string {
	var parts []string
	packages, setting := 0, false
	for _, d := range e.Diffs {
		if !strings.HasPrefix(d.What, "package ") && !strings.HasPrefix(d.What, "module ") {
			setting = true
		}
	}
	for _, d := range e.Diffs {
		if strings.HasPrefix(d.What, "package ") {
			if packages++; setting || packages > maxPackageDiffs {
				continue
			}
		}
		parts = append(parts, d.String())
	}
	switch more := packages - maxPackageDiffs; {
	case setting && packages > 0:
		parts = append(parts, fmt.Sprintf("and %d packages differ as a result", packages))
	case more > 0:
		parts = append(parts, fmt.Sprintf("and %d more packages", more))
	}
	return fmt.Sprintf("preflight %s: %s: %s", safetext.Name(e.Path), ErrMismatch, strings.Join(parts, "; "))
}

// maxPackageDiffs is how many differing packages a MismatchError's message
// names; its Diffs hold them all.
const maxPackageDiffs = 10

// ErrMismatch is wrapped by [MismatchError].
var ErrMismatch = errors.New("built differently from the host")

// Unwrap returns [ErrMismatch].
func (e *MismatchError) Unwrap() error { return ErrMismatch }

// ErrorHint says how to build a plugin that fits.
func (e *MismatchError) ErrorHint() string {
	for _, d := range e.Diffs {
		if !strings.HasPrefix(d.What, "package ") {
			return "rebuild the plugin for this host with plugink build and -host naming the host's binary (or loader.Build with BuildOptions.Host)"
		}
	}
	return "the plugin and the host were built from different sources of the packages named (a change in the main module, or in a module replaced by a directory, since one of them was built): rebuild the plugin from the host's sources, with plugink build and -host naming the host's binary"
}

// Fits compares the plugin pf (from the file at path) with host, and
// returns a *MismatchError listing every difference. It also returns the
// fingerprints of the packages the plugin links other than its own main
// package, to compare them again before it is opened.
func Fits(path string, pf *pluginfile.File, host *Host) (map[string]string, error) {
	if err := host.CheckCanLoad(); err != nil {
		return nil, err
	}
	diffs := Compare(pf.BuildInfo, host.BuildInfo)
	fps, err := pf.Fingerprints()
	if err != nil {
		return nil, err
	}
	diffs = append(diffs, CompareFingerprints(fps, host)...)
	if len(diffs) > 0 {
		return nil, &MismatchError{Path: path, Diffs: diffs}
	}
	return fps, nil
}

// ByLoadedPlugins returns the differences, found after the plugin's
// fingerprints matched this program's own, as due to a plugin loaded
// since; nil if there are none.
func ByLoadedPlugins(path string, diffs []Difference) error {
	if len(diffs) == 0 {
		return nil
	}
	for i := range diffs {
		diffs[i].What += " (as a plugin loaded before links it)"
	}
	return &MismatchError{Path: path, Diffs: diffs}
}

// Compare returns the differences between a plugin's build information and
// its host's that would stop the plugin from loading, as the loader's
// Preflight describes; none means the two are compatible as far as build information
// can tell.
func Compare(plugin, host *debug.BuildInfo) []Difference {
	var diffs []Difference
	if p, h := plugin.GoVersion, host.GoVersion; p != h {
		diffs = append(diffs, Difference{What: "go", Plugin: p, Host: h})
	}
	for _, s := range settings.All {
		if !s.Compared {
			continue
		}
		if p, h := settings.Value(plugin, s.Key), settings.Value(host, s.Key); p != h {
			diffs = append(diffs, Difference{What: s.Key, Plugin: p, Host: h})
		}
	}
	return append(diffs, compareModules(plugin, host)...)
}

// compareModules compares every module both builds link (the main module
// and the dependencies), except those [unknowable] says cannot be compared.
func compareModules(plugin, host *debug.BuildInfo) []Difference {
	hostMods := map[string]*debug.Module{}
	for _, m := range self.Modules(host) {
		hostMods[m.Path] = m
	}
	var diffs []Difference
	for _, pm := range self.Modules(plugin) {
		hm := hostMods[pm.Path]
		if hm == nil || unknowable(pm, plugin, hm, host) {
			continue
		}
		if p, h := moduleString(pm), moduleString(hm); p != h {
			diffs = append(diffs, Difference{What: "module " + pm.Path, Plugin: p, Host: h})
		}
	}
	slices.SortFunc(diffs, func(a, b Difference) int { return cmp.Compare(a.What, b.What) })
	return diffs
}

// unknowable reports whether build information cannot tell if two builds
// of a module are the same: each side builds it from a local directory, as
// its main (or workspace) module or as the replacement of a module. The
// package fingerprints tell.
func unknowable(pm *debug.Module, plugin *debug.BuildInfo, hm *debug.Module, host *debug.BuildInfo) bool {
	return (mainModule(pm, plugin) || dirReplaced(pm)) && (mainModule(hm, host) || dirReplaced(hm))
}

func mainModule(m *debug.Module, bi *debug.BuildInfo) bool {
	return m == &bi.Main || m.Replace == nil && m.Version == "(devel)"
}

// dirReplaced reports whether m is replaced by a local directory, which
// build information records without a version, or as "(devel)".
func dirReplaced(m *debug.Module) bool {
	return m.Replace != nil && (m.Replace.Version == "" || m.Replace.Version == "(devel)")
}

func moduleString(m *debug.Module) string {
	s := m.Version
	if m.Sum != "" {
		s += " " + m.Sum
	}
	if r := m.Replace; r != nil {
		s += " => " + r.Path
		if !dirReplaced(m) {
			s += " " + r.Version
		}
		if r.Sum != "" {
			s += " " + r.Sum
		}
	}
	return s
}
