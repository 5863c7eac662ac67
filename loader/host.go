package loader

import (
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/plugink/plugink/internal/fsx"
)

// fingerprintPrefix starts the names of the symbols in which Go's linker
// records, in every plugin and in every program that can load plugins, the
// fingerprint of each package it links. plugin.Open compares them and
// fails with "plugin was built with a different version of package X" at
// the first that differs; preflight compares them all first.
const fingerprintPrefix = "go:link.pkghashbytes."

// Host is a program that plugins are checked against ([Preflight]): its
// build information and the fingerprints of the packages it links.
type Host struct {
	// Path is the program's file; "" for the running program.
	Path string
	// BuildInfo is the program's Go build information.
	BuildInfo *debug.BuildInfo
	// fingerprint returns the fingerprint of pkg as the program links it,
	// and false if it does not link pkg.
	fingerprint func(pkg string) (string, bool)
	// canLoad is false for a program built without package plugin, which
	// cannot load plugins at all.
	canLoad bool
	// packages are the import paths fingerprint knows, sorted; nil when
	// they cannot be listed.
	packages []string
}

// CanLoadPlugins reports whether the host can load plugins at all: a
// program built without package plugin (a static plugink host) cannot.
func (h *Host) CanLoadPlugins() bool { return h.canLoad }

// Packages returns the import paths of the packages whose fingerprints h
// records, sorted: those the program links. It is nil when they are not
// known: for the running program, a program whose file is not ELF, or a
// Host made by NewHost without fingerprints.
func (h *Host) Packages() []string { return slices.Clone(h.packages) }

// NewHost returns a Host described by its build information and the
// fingerprints of the packages it links, by import path. With nil
// fingerprints, Preflight compares build information only.
func NewHost(bi *debug.BuildInfo, fingerprints map[string]string) *Host {
	return &Host{BuildInfo: bi, canLoad: true, packages: slices.Sorted(maps.Keys(fingerprints)), fingerprint: func(pkg string) (string, bool) {
		fp, ok := fingerprints[pkg]
		return fp, ok
	}}
}

// ReadHost reads the build information and the package fingerprints of the
// program at path, to check plugins against it with [Preflight].
func ReadHost(path string) (*Host, error) {
	f, fi, err := fsx.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read host: %w", err)
	}
	defer f.Close()
	bi, err := ReadBuildInfo(path)
	if err != nil {
		return nil, err
	}
	fps, err := readFingerprints(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("read host %s: %w", path, err)
	}
	h := NewHost(bi, fps)
	// An ELF program that records no fingerprint does not link package
	// plugin. Other formats (Mach-O) are not read for fingerprints, so
	// they are taken to be able to: plugin.Open will say.
	h.Path, h.canLoad = path, len(fps) > 0 || !isELF(f)
	return h, nil
}

// thisHost is the running program as a Host, made once: the fingerprints
// come from the dynamic linker (see selfFingerprint), which also sees those
// of the plugins already loaded, as plugin.Open will.
var thisHost = sync.OnceValues(func() (*Host, error) {
	bi, err := hostBuildInfo()
	if err != nil {
		return nil, err
	}
	return &Host{BuildInfo: bi, canLoad: true, fingerprint: selfFingerprint}, nil
})

// readFingerprints returns the package fingerprints an ELF file records in
// its dynamic symbol table, by import path (none for other files).
func readFingerprints(f io.ReaderAt, size int64) (map[string]string, error) {
	if !isELF(f) {
		return nil, nil
	}
	ef, err := readELF(f, size)
	if err != nil {
		return nil, err
	}
	return ef.fingerprints()
}

// isELF reports whether f starts with ELF's magic number.
func isELF(f io.ReaderAt) bool {
	var magic [4]byte
	_, err := f.ReadAt(magic[:], 0)
	return err == nil && string(magic[:]) == elf.ELFMAG
}

// maxPackages bounds how many packages a program or plugin may link.
const maxPackages = 1 << 16

// fingerprints reads the package fingerprints from the dynamic symbol
// table (which a stripped file keeps).
func (f *elfFile) fingerprints() (map[string]string, error) {
	tab := f.sectionOfType(elf.SHT_DYNSYM)
	if tab == nil {
		return nil, nil
	}
	syms, err := f.symbols(tab, symbolQuery{prefix: fingerprintPrefix, max: maxPackages, size: 64})
	if err != nil {
		return nil, err
	}
	fps := make(map[string]string, len(syms))
	for _, s := range syms {
		fps[strings.TrimPrefix(s.name, fingerprintPrefix)] = hex.EncodeToString(s.data)
	}
	return fps, nil
}

// ErrNoPlugins reports a host that cannot load plugins at all.
var ErrNoPlugins = errors.New("the host cannot load plugins: it does not link package plugin (build it with -tags plugink_dynamic)")

// compareFingerprints returns a Difference for every package that the
// plugin and the host both link with different fingerprints, sorted.
func compareFingerprints(plugin map[string]string, host *Host) []Difference {
	var diffs []Difference
	for pkg, p := range plugin {
		if h, ok := host.fingerprint(pkg); ok && h != p {
			diffs = append(diffs, Difference{What: "package " + pkg, Plugin: p, Host: h})
		}
	}
	sort.Slice(diffs, func(i, j int) bool { return diffs[i].What < diffs[j].What })
	return diffs
}

// hostExecutable is the file of the running program, for what cannot be
// asked of the dynamic linker.
func hostExecutable() string {
	if _, err := os.Stat("/proc/self/exe"); err == nil {
		return "/proc/self/exe"
	}
	exe, _ := os.Executable()
	return exe
}
