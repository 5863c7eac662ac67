package hostcmp

import (
	"debug/buildinfo"
	"errors"
	"fmt"
	"maps"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"sort"
	"sync"

	"github.com/plugink/plugink/internal/fsx"
	"github.com/plugink/plugink/internal/self"
	"github.com/plugink/plugink/internal/settings"
	"github.com/plugink/plugink/loader/internal/pluginfile"
)

// Host is a program that plugins are checked against ([Fits]): its
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

// CheckCanLoad returns nil if the host can load plugins, else an error
// wrapping [ErrUnsupported] that says why not.
func (h *Host) CheckCanLoad() error {
	if !h.canLoad {
		return fmt.Errorf("%w: the host does not link package plugin (build it with -tags plugink_dynamic)", ErrUnsupported)
	}
	return nil
}

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
// program at path, to check plugins against it.
func ReadHost(path string) (*Host, error) {
	f, fi, err := fsx.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read host: %w", err)
	}
	defer f.Close()
	bi, err := buildinfo.Read(f)
	if err != nil {
		return nil, fmt.Errorf("read build info of %s: %w", path, err)
	}
	fps, err := pluginfile.ReadFingerprints(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("read host %s: %w", path, err)
	}
	h := NewHost(bi, fps)
	// An ELF program that records no fingerprint does not link package
	// plugin. Other formats (Mach-O) are not read for fingerprints, so
	// they are taken to be able to: plugin.Open will say.
	h.Path, h.canLoad = path, len(fps) > 0 || !pluginfile.IsELF(f)
	return h, nil
}

// This is the running program as a Host, made once: the fingerprints
// come from the dynamic linker (see selfFingerprint), which also sees those
// of the plugins already loaded, as plugin.Open will.
var This = sync.OnceValues(func() (*Host, error) {
	bi, err := self.BuildInfo()
	if err != nil {
		return nil, err
	}
	return &Host{BuildInfo: bi, canLoad: true, fingerprint: selfFingerprint}, nil
})

// ErrUnsupported reports a program that cannot load Go plugins at all: an
// OS without package plugin support, a program built with CGO_ENABLED=0,
// or one that does not link package plugin.
var ErrUnsupported = errors.New("cannot load Go plugins")

// CompareFingerprints returns a Difference for every package that the
// plugin and the host both link with different fingerprints, sorted.
func CompareFingerprints(plugin map[string]string, host *Host) []Difference {
	var diffs []Difference
	for pkg, p := range plugin {
		if h, ok := host.fingerprint(pkg); ok && h != p {
			diffs = append(diffs, Difference{What: "package " + pkg, Plugin: p, Host: h})
		}
	}
	sort.Slice(diffs, func(i, j int) bool { return diffs[i].What < diffs[j].What })
	return diffs
}

// Supported reports whether this program can load plugins at all: an OS
// with package plugin, and a build with cgo.
func Supported() error {
	switch goruntime.GOOS {
	case "linux", "darwin", "freebsd":
	default:
		return fmt.Errorf("%w: Go supports plugins on linux, darwin and freebsd, not %s", ErrUnsupported, goruntime.GOOS)
	}
	if bi, err := self.BuildInfo(); err == nil && settings.Get(bi, "CGO_ENABLED") == "0" {
		return fmt.Errorf("%w: this program was built with CGO_ENABLED=0, and package plugin needs cgo", ErrUnsupported)
	}
	return nil
}
