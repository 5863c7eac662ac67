package pluginfile

import (
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
func (pf *File) Fingerprints() (map[string]string, error) {
	if pf.elf == nil {
		return nil, nil
	}
	fps, err := pf.elf.fingerprints()
	if err != nil {
		return nil, err
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
