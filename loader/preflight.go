package loader

import (
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/plugink/plugink/loader/internal/hostcmp"
	"github.com/plugink/plugink/loader/internal/mapped"
	"github.com/plugink/plugink/loader/internal/opened"
	"github.com/plugink/plugink/loader/internal/pluginfile"
)

// Host is a program that plugins are checked against ([Preflight]): its
// build information and the fingerprints of the packages it links.
type Host = hostcmp.Host

// ReadHost reads the build information and the package fingerprints of the
// program at path, to check plugins against it with [Preflight], or to
// build plugins for it ([BuildOptions].Host is its BuildInfo).
func ReadHost(path string) (*Host, error) { return hostcmp.ReadHost(path) }

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
	err := readPlugin(path, func(pf *pluginfile.File, _ fs.FileInfo) error {
		if err := pf.CheckLoadable(); err != nil {
			return err
		}
		if host == nil {
			if err := pf.CheckPlatform(); err != nil {
				return err
			}
			var err error
			if host, err = hostcmp.This(); err != nil {
				return err
			}
		}
		_, err := hostcmp.Fits(path, pf, host)
		return err
	})
	if err != nil {
		return namingFile("preflight", path, err)
	}
	return nil
}

// readPlugin reads the plugin file at path through a mapping (see package
// mapped) and calls read with what its headers say and what the open
// descriptor says of the file. A file that changed while it was read is
// not a plugin (ErrNotPlugin).
func readPlugin(path string, read func(pf *pluginfile.File, fi fs.FileInfo) error) error {
	err := mapped.Read(path, func(r io.ReaderAt, fi fs.FileInfo) error {
		pf, err := pluginfile.Read(r, fi.Size())
		if err != nil {
			return err
		}
		return read(pf, fi)
	})
	if errors.Is(err, mapped.ErrTruncated) || errors.Is(err, mapped.ErrChanged) {
		return fmt.Errorf("%w: %w", ErrNotPlugin, err)
	}
	return err
}

// fileFingerprints reads the fingerprints of the packages the plugin at
// path links, as preflight compares them.
func fileFingerprints(path string) (fps map[string]string, err error) {
	err = readPlugin(path, func(pf *pluginfile.File, _ fs.FileInfo) error {
		fps, err = pf.Fingerprints()
		return err
	})
	return fps, err
}

// recheck compares the package fingerprints preflight returned for the
// file c with the running program's once more, right before plugin.Open:
// a plugin opened since (in the same LoadAll, say) may have brought its
// own version of a package the program does not link. If the loader
// opened no plugin since the comparison, there is nothing new to compare
// with. (A plugin that code other than plugink opens meanwhile is not seen
// here; for a clash with one of those, plugin.Open fails with its own
// message.)
func recheck(c *candidate) error {
	if opened.Started() == c.opensSeen {
		return nil
	}
	fps, err := c.fingerprints()
	if err != nil {
		return &LoadError{Op: "load", Path: c.path, Err: err}
	}
	if len(fps) == 0 {
		return nil
	}
	host, err := hostcmp.This()
	if err != nil {
		return err
	}
	return hostcmp.ByLoadedPlugins(c.path, hostcmp.CompareFingerprints(fps, host))
}
