package loader

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/plugink/plugink/internal/safetext"
	"github.com/plugink/plugink/runtime"
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

// Error implements error. It lists every difference on one line, except
// that past maxPackageDiffs differing packages it counts the rest: when a
// build setting differs, every package does.
func (e *MismatchError) Error() string {
	var parts []string
	packages := 0
	for _, d := range e.Diffs {
		if strings.HasPrefix(d.What, "package ") {
			if packages++; packages > maxPackageDiffs {
				continue
			}
		}
		parts = append(parts, d.String())
	}
	if more := packages - maxPackageDiffs; more > 0 {
		parts = append(parts, fmt.Sprintf("and %d more packages", more))
	}
	return fmt.Sprintf("preflight %s: %s: %s", e.Path, ErrMismatch, strings.Join(parts, "; "))
}

// maxPackageDiffs is how many differing packages a MismatchError's message
// names; its Diffs hold them all.
const maxPackageDiffs = 10

// Unwrap returns [ErrMismatch].
func (e *MismatchError) Unwrap() error { return ErrMismatch }

// ErrorHint says how to build a plugin that fits.
func (e *MismatchError) ErrorHint() string {
	for _, d := range e.Diffs {
		if !strings.HasPrefix(d.What, "package ") {
			return "rebuild the plugin for this host: plugink build -host <host binary> (or loader.Build with BuildOptions.Host)"
		}
	}
	return "the plugin and the host were built from different sources of the packages named (a change in the main module, or in a module replaced by a directory, since one of them was built): rebuild the plugin from the host's sources, plugink build -host <host binary>"
}

// hostBuildInfo is this program's build information, read once.
var hostBuildInfo = sync.OnceValues(func() (*debug.BuildInfo, error) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil, runtime.WithHint(errors.New("this program has no Go build information, so plugins cannot be checked against it"), "build the program with module support, or load with loader.WithoutPreflight")
	}
	return bi, nil
})

// Preflight reports whether the plugin at path can load into the program
// host describes, without opening the plugin. It checks the file's
// structure as [Loader.Load] does for an unverified file, and compares the plugin's
// build information with the host's and the fingerprint of every package
// both link, and returns a *[MismatchError] listing every difference at
// once: Go version, GOOS, GOARCH and GOAMD64 (or the architecture's
// variable), GOEXPERIMENT, CGO_ENABLED, -trimpath, -race, -msan, -asan,
// -cover, -tags, -gcflags, -asmflags, -pgo, every module both link at a
// different version, checksum or replacement, and every shared package
// built from other sources or with other flags (the check plugin.Open
// makes, which stops at the first with "plugin was built with a different
// version of package X"). A plugin that fits by all these is one that
// package plugin accepts.
//
// A nil host means this program ([ReadHost] reads another); then the
// file's ELF header is also checked against this process's architecture,
// and a package's fingerprint is the one the dynamic linker resolves in
// this process, where plugins loaded before may add packages.
//
// Not compared, because they do not change the code of packages the two
// share: -ldflags, CGO_CFLAGS and the other C flags, DefaultGODEBUG, and the
// tag plugink_dynamic, which only selects plugink's generated file in the
// host's own package. Package fingerprints are read from ELF files only;
// for Mach-O files only build information is compared.
func Preflight(path string, host *Host) error {
	err := readMapped(path, func(r io.ReaderAt, fi fs.FileInfo) error {
		pf, err := readPluginFile(r, fi.Size())
		if err == nil && pf.elf != nil {
			err = pf.elf.checkLoadable()
		}
		if err == nil && host == nil {
			if err = checkPlatform(pf); err == nil {
				host, err = thisHost()
			}
		}
		if err == nil {
			_, err = fits(path, pf, host)
		}
		return err
	})
	if err != nil {
		var me *MismatchError
		if errors.As(err, &me) {
			return err
		}
		return &LoadError{Op: "preflight", Path: path, Err: err}
	}
	return nil
}

// fits compares the plugin pf (from the file at path) with host, and
// returns a *MismatchError listing every difference. It also returns the
// fingerprints of the packages the plugin links other than its own main
// package, for a later [recheck].
func fits(path string, pf *pluginFile, host *Host) (map[string]string, error) {
	if !host.canLoad {
		return nil, ErrNoPlugins
	}
	diffs := Compare(pf.bi, host.BuildInfo)
	var fps map[string]string
	if pf.elf != nil {
		var err error
		if fps, err = pf.fingerprints(); err != nil {
			return nil, err
		}
		diffs = append(diffs, compareFingerprints(fps, host)...)
	}
	if len(diffs) > 0 {
		return nil, &MismatchError{Path: path, Diffs: diffs}
	}
	return fps, nil
}

// fingerprints returns the fingerprints of the packages the ELF plugin pf
// links, but its main package (a clash there is the pluginpath check's).
func (pf *pluginFile) fingerprints() (map[string]string, error) {
	fps, err := pf.elf.fingerprints()
	if err != nil {
		return nil, err
	}
	for pkg := range fps {
		if pkg == pf.pluginpath || strings.HasPrefix(pkg, "plugin/unnamed-") {
			delete(fps, pkg)
		}
	}
	return fps, nil
}

// fileFingerprints reads the fingerprints of the packages the plugin at
// path links, as fits compares them.
func fileFingerprints(path string) (fps map[string]string, err error) {
	err = readMapped(path, func(r io.ReaderAt, fi fs.FileInfo) error {
		pf, err := readPluginFile(r, fi.Size())
		if err == nil && pf.elf != nil {
			fps, err = pf.fingerprints()
		}
		return err
	})
	return fps, err
}

// recheck compares the package fingerprints fits returned for the file c
// with the running program's once more, right before plugin.Open: a plugin
// opened since (in the same LoadAll, say) may have brought its own version
// of a package the program does not link. If the loader opened no plugin
// since the comparison, there is nothing new to compare with. (A plugin
// that code other than plugink opens meanwhile is not seen here; for a
// clash with one of those, plugin.Open fails with its own message.)
func recheck(c *candidate) error {
	if opensStarted.Load() == c.opensSeen {
		return nil
	}
	fps, err := c.fingerprints()
	if err != nil {
		return &LoadError{Op: "load", Path: c.path, Err: err}
	}
	if len(fps) == 0 {
		return nil
	}
	host, err := thisHost()
	if err != nil {
		return err
	}
	return byLoadedPlugins(c.path, compareFingerprints(fps, host))
}

// byLoadedPlugins returns the differences, found after the plugin's
// fingerprints matched this program's own, as due to a plugin loaded
// since; nil if there are none.
func byLoadedPlugins(path string, diffs []Difference) error {
	if len(diffs) == 0 {
		return nil
	}
	for i := range diffs {
		diffs[i].What += " (as a plugin loaded before links it)"
	}
	return &MismatchError{Path: path, Diffs: diffs}
}

// comparedSettings are the build settings Compare checks, in the order it
// reports them. Architecture variables (GOAMD64, GOARM64, ...) follow
// GOARCH. Boolean flags are "false" when not recorded.
var comparedSettings = []string{
	"GOOS", "GOARCH", "GOEXPERIMENT", "GOFIPS140", "CGO_ENABLED",
	"-trimpath", "-race", "-msan", "-asan", "-cover", "-tags", "-gcflags", "-asmflags", "-pgo",
}

var archSettings = []string{"GO386", "GOAMD64", "GOARM", "GOARM64", "GOMIPS", "GOMIPS64", "GOPPC64", "GORISCV64", "GOWASM"}

var boolSettings = map[string]bool{"-trimpath": true, "-race": true, "-msan": true, "-asan": true, "-cover": true}

// Compare returns the differences between a plugin's build information and
// its host's that would stop the plugin from loading, as [Preflight]
// describes; none means the two are compatible as far as build information
// can tell.
func Compare(plugin, host *debug.BuildInfo) []Difference {
	var diffs []Difference
	if p, h := plugin.GoVersion, host.GoVersion; p != h {
		diffs = append(diffs, Difference{What: "go", Plugin: p, Host: h})
	}
	keys := slices.Clone(comparedSettings)
	keys = slices.Insert(keys, slices.Index(keys, "GOARCH")+1, archSettings...)
	for _, key := range keys {
		p, h := settingValue(plugin, key), settingValue(host, key)
		if p != h {
			diffs = append(diffs, Difference{What: key, Plugin: p, Host: h})
		}
	}
	return append(diffs, compareModules(plugin, host)...)
}

// settingValue returns a setting in a form that compares equal when the
// two builds agree.
func settingValue(bi *debug.BuildInfo, key string) string {
	v := Setting(bi, key)
	switch {
	case boolSettings[key] && v == "":
		return "false"
	case key == "-tags":
		var tags []string
		for _, t := range strings.Split(v, ",") {
			if t != "" && t != runtime.DynamicTag {
				tags = append(tags, t)
			}
		}
		slices.Sort(tags)
		return strings.Join(slices.Compact(tags), ",")
	}
	return v
}

// compareModules compares every module both builds link (the main module
// and the dependencies), except those [unknowable] says cannot be compared.
func compareModules(plugin, host *debug.BuildInfo) []Difference {
	hostMods := map[string]*debug.Module{}
	for _, m := range modules(host) {
		hostMods[m.Path] = m
	}
	var diffs []Difference
	for _, pm := range modules(plugin) {
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

func modules(bi *debug.BuildInfo) []*debug.Module {
	mods := make([]*debug.Module, 0, len(bi.Deps)+1)
	if bi.Main.Path != "" {
		mods = append(mods, &bi.Main)
	}
	return append(mods, bi.Deps...)
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
