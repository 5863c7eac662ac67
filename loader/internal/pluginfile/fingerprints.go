package pluginfile

import (
	"bytes"
	"debug/elf"
	"encoding/hex"
	"io"
	"strings"

	"github.com/plugink/plugink/runtime"
)

// fingerprintPrefix starts the names of the symbols in which Go's linker
// records, in every plugin and in every program that can load plugins, the
// fingerprint of each package it links. plugin.Open compares them and
// fails with "plugin was built with a different version of package X" at
// the first that differs; preflight compares them all first.
const fingerprintPrefix = "go:link.pkghashbytes."

// ThisPluginPath is the linker's symbol holding a plugin's pluginpath.
const ThisPluginPath = "go:link.thispluginpath"

// MaxPackages bounds how many packages a program or plugin may link.
const MaxPackages = 1 << 16

// Fingerprints returns the fingerprints of the packages the plugin links,
// by import path, but its main package (a clash there is the pluginpath
// check's); nil for a Mach-O file, whose fingerprints are not read.
//
// They are the ones plugin.Open compares with the host's: the link-time
// table (go:link.pkgname.N and go:link.pkglinkhash.N, in the symbol
// table), checked against the fingerprints the file exports to the
// dynamic linker (go:link.pkghashbytes.*); a file where the two disagree
// is refused. A stripped file has no symbol table: its exported
// fingerprints are what can be read.
func (pf *File) Fingerprints() (map[string]string, error) {
	if pf.elf == nil {
		return nil, nil
	}
	fps, err := pf.elf.fingerprints()
	if err != nil {
		return nil, err
	}
	linked, err := pf.elf.linkTimeFingerprints()
	if err != nil {
		return nil, err
	}
	for pkg, fp := range linked {
		if exported, ok := fps[pkg]; ok && exported != fp {
			return nil, errELF("package %s: the fingerprint the file exports (%s) is not the one plugin.Open compares (%s)", runtime.Quote(pkg), exported, fp)
		}
	}
	if linked != nil {
		fps = linked
	}
	for pkg := range fps {
		if pkg == pf.PluginPath || strings.HasPrefix(pkg, "plugin/unnamed-") {
			delete(fps, pkg)
		}
	}
	return fps, nil
}

// ReadPluginPath returns the pluginpath: the build information's, or, for
// a plugin built from a list of files, whose build information does not
// name it, the one the linker recorded; "" if neither says.
func (pf *File) ReadPluginPath() (string, error) {
	if pf.PluginPath != "" {
		return pf.PluginPath, nil
	}
	syms, err := pf.Symbols(Query{Prefix: ThisPluginPath, Max: 1, Size: runtime.MaxImportPathLen,
		Match: func(name []byte) bool { return string(name) == ThisPluginPath }})
	if err != nil || len(syms) == 0 {
		return "", err
	}
	return string(syms[0].Data), nil
}

// ReadFingerprints returns the package fingerprints an ELF file (a
// program, say) records in its dynamic symbol table, by import path; none
// for other files.
func ReadFingerprints(f io.ReaderAt, size int64) (map[string]string, error) {
	if !IsELF(f) {
		return nil, nil
	}
	ef, err := readELF(f, size)
	if err != nil {
		return nil, err
	}
	return ef.fingerprints()
}

// IsELF reports whether f starts with ELF's magic number.
func IsELF(f io.ReaderAt) bool {
	var magic [4]byte
	_, err := f.ReadAt(magic[:], 0)
	return err == nil && string(magic[:]) == elf.ELFMAG
}

// fingerprints reads the package fingerprints from the dynamic symbol
// table (which a stripped file keeps).
func (f *elfFile) fingerprints() (map[string]string, error) {
	tab := f.sectionOfType(elf.SHT_DYNSYM)
	if tab == nil {
		return nil, nil
	}
	syms, err := f.symbols(tab, Query{Prefix: fingerprintPrefix, Max: MaxPackages, Size: 64})
	if err != nil {
		return nil, err
	}
	fps := make(map[string]string, len(syms))
	for _, s := range syms {
		fps[strings.TrimPrefix(s.Name, fingerprintPrefix)] = hex.EncodeToString(s.Data)
	}
	return fps, nil
}

// Symbols of the link-time table of a plugin's packages.
const (
	pkgNamePrefix     = "go:link.pkgname."
	pkgLinkHashPrefix = "go:link.pkglinkhash."
)

// linkTimeFingerprints reads the table the runtime compares at
// plugin.Open, from the symbol table: nil if there is none (a stripped
// file). Each entry N is a package's import path (go:link.pkgname.N) and
// its fingerprint (go:link.pkglinkhash.N).
func (f *elfFile) linkTimeFingerprints() (map[string]string, error) {
	tab := f.sectionOfType(elf.SHT_SYMTAB)
	if tab == nil {
		return nil, nil
	}
	syms, err := f.symbols(tab, Query{Prefix: "go:link.pkg", Max: 2 * MaxPackages, Size: runtime.MaxImportPathLen,
		Match: func(name []byte) bool {
			return bytes.HasPrefix(name, []byte(pkgNamePrefix)) || bytes.HasPrefix(name, []byte(pkgLinkHashPrefix))
		}})
	if err != nil {
		return nil, err
	}
	names, hashes := map[string]string{}, map[string]string{}
	for _, s := range syms {
		if n, ok := strings.CutPrefix(s.Name, pkgNamePrefix); ok {
			names[n] = string(s.Data)
		} else if n, ok := strings.CutPrefix(s.Name, pkgLinkHashPrefix); ok {
			hashes[n] = hex.EncodeToString(s.Data)
		}
	}
	if len(names) == 0 && len(hashes) == 0 {
		return nil, nil
	}
	fps := make(map[string]string, len(names))
	for n, pkg := range names {
		fp, ok := hashes[n]
		if !ok {
			return nil, errELF("link-time table: package %s (entry %s) has no fingerprint", runtime.Quote(pkg), n)
		}
		if _, dup := fps[pkg]; dup {
			return nil, errELF("link-time table: package %s is listed twice", runtime.Quote(pkg))
		}
		fps[pkg] = fp
	}
	if len(hashes) != len(names) {
		return nil, errELF("link-time table: %d fingerprints for %d packages", len(hashes), len(names))
	}
	return fps, nil
}
