// Package pluginfile reads a Go plugin file without opening it: its ELF
// (or Mach-O) headers, its build information, its symbols and the package
// fingerprints it records, and checks the structure the dynamic linker
// relies on. It takes an io.ReaderAt and returns a *File or an error: no
// file content can make it panic, hang or allocate without bound.
//
//	f, err := pluginfile.Read(r, size)
//	if err == nil {
//		err = f.CheckLoadable()
//	}
package pluginfile

import (
	"debug/buildinfo"
	"debug/elf"
	"debug/macho"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	goruntime "runtime"
	"runtime/debug"
	"strings"

	"github.com/plugink/plugink/internal/settings"
	"github.com/plugink/plugink/loader/internal/mapped"

	"github.com/plugink/plugink/runtime"
)

// Sentinel errors of reading a plugin file.
var (
	// ErrNotPlugin reports a file that is not a Go plugin: not an ELF (or
	// Mach-O) shared object, no Go build information, built with a
	// -buildmode other than plugin, or damaged.
	ErrNotPlugin = errors.New("not a Go plugin")
	// ErrPlatform reports a plugin built for another OS, architecture or
	// word size than this program.
	ErrPlatform = errors.New("built for another platform")
)

// File is what a plugin file says of itself, read without opening it as a
// plugin.
type File struct {
	// Format is "ELF" or "Mach-O".
	Format string
	// Arch is the GOARCH the header says, or a description of the
	// machine if it is none.
	Arch string
	// Class is "32-bit" or "64-bit".
	Class string
	// BuildInfo is the file's Go build information.
	BuildInfo *debug.BuildInfo
	// PluginPath is the pluginpath, "" if the build information does not
	// say (a plugin built from a list of files): see [File.ReadPluginPath].
	PluginPath string

	r   io.ReaderAt
	elf *elfFile // the ELF headers; nil for Mach-O
}

// cmdlinePath is the build info path of a package built from a list of
// files; its plugins get the pluginpath "plugin/unnamed-<hash>".
const cmdlinePath = "command-line-arguments"

// Read checks that f, of the given size, is a Go plugin — an
// ELF or Mach-O shared object with Go build information and
// -buildmode=plugin — and returns what its headers say. It reads headers
// and the build information, not the symbol tables. It never panics on a
// damaged file: the standard library's readers, used for what plugink does
// not read itself (Mach-O files, old-style build information), run behind
// a recover that turns a panic into an error; a memory fault (a mapped
// file cut short) goes on, for package mapped to report.
func Read(f io.ReaderAt, size int64) (pf *File, err error) {
	defer func() {
		if r := recover(); r != nil {
			if mapped.IsFault(r) {
				panic(r)
			}
			pf, err = nil, fmt.Errorf("%w: malformed file (%v)", ErrNotPlugin, r)
		}
	}()
	var magic [4]byte
	if _, err := f.ReadAt(magic[:], 0); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: file too short to be a shared object", ErrNotPlugin)
		}
		return nil, err
	}
	switch {
	case string(magic[:]) == elf.ELFMAG:
		pf, err = readELFPlugin(f, size)
	case isMachO(magic):
		pf, err = readMachOHeader(f)
	default:
		return nil, fmt.Errorf("%w: not an ELF or Mach-O shared object (file starts with %q)", ErrNotPlugin, magic[:])
	}
	if err != nil {
		return nil, err
	}
	pf.r = f
	if pf.BuildInfo == nil {
		if pf.BuildInfo, err = buildinfo.Read(f); err != nil {
			return nil, fmt.Errorf("%w: no Go build information in this %s file (%w)", ErrNotPlugin, pf.Format, err)
		}
	}
	if mode := settings.Get(pf.BuildInfo, "-buildmode"); mode != "plugin" {
		return nil, fmt.Errorf("%w: built with -buildmode=%s, not -buildmode=plugin", ErrNotPlugin, mode)
	}
	if pf.BuildInfo.Path != cmdlinePath {
		pf.PluginPath = pf.BuildInfo.Path
	}
	return pf, nil
}

// readELFPlugin reads an ELF file's headers and its build information.
func readELFPlugin(f io.ReaderAt, size int64) (*File, error) {
	ef, err := readELF(f, size)
	if err != nil {
		return nil, err
	}
	pf := &File{Format: "ELF", elf: ef}
	pf.setELFArch(ef.machine, ef.class, ef.order.byteOrder())
	if ef.typ != elf.ET_DYN {
		return nil, fmt.Errorf("%w: an ELF %s, not a shared object (ET_DYN)", ErrNotPlugin, elfTypeName(ef.typ))
	}
	if b, err := ef.buildInfoBytes(); err == nil {
		pf.BuildInfo = parseInlineBuildInfo(b) // nil: let debug/buildinfo read (and explain) it
	}
	return pf, nil
}

func isMachO(m [4]byte) bool {
	le := binary.LittleEndian.Uint32(m[:])
	be := binary.BigEndian.Uint32(m[:])
	for _, v := range []uint32{macho.Magic32, macho.Magic64, macho.MagicFat} {
		if le == v || be == v {
			return true
		}
	}
	return false
}

// elfArch is the ELF machine, class and byte order of each GOARCH.
var elfArch = map[string]struct {
	machine elf.Machine
	class   elf.Class
	order   binary.ByteOrder
}{
	"386":      {elf.EM_386, elf.ELFCLASS32, binary.LittleEndian},
	"amd64":    {elf.EM_X86_64, elf.ELFCLASS64, binary.LittleEndian},
	"arm":      {elf.EM_ARM, elf.ELFCLASS32, binary.LittleEndian},
	"arm64":    {elf.EM_AARCH64, elf.ELFCLASS64, binary.LittleEndian},
	"loong64":  {elf.EM_LOONGARCH, elf.ELFCLASS64, binary.LittleEndian},
	"mips":     {elf.EM_MIPS, elf.ELFCLASS32, binary.BigEndian},
	"mipsle":   {elf.EM_MIPS, elf.ELFCLASS32, binary.LittleEndian},
	"mips64":   {elf.EM_MIPS, elf.ELFCLASS64, binary.BigEndian},
	"mips64le": {elf.EM_MIPS, elf.ELFCLASS64, binary.LittleEndian},
	"ppc64":    {elf.EM_PPC64, elf.ELFCLASS64, binary.BigEndian},
	"ppc64le":  {elf.EM_PPC64, elf.ELFCLASS64, binary.LittleEndian},
	"riscv64":  {elf.EM_RISCV, elf.ELFCLASS64, binary.LittleEndian},
	"s390x":    {elf.EM_S390, elf.ELFCLASS64, binary.BigEndian},
}

// setELFArch sets pf's architecture and word size from an ELF header.
func (pf *File) setELFArch(m elf.Machine, c elf.Class, order binary.ByteOrder) {
	pf.Class = "64-bit"
	if c == elf.ELFCLASS32 {
		pf.Class = "32-bit"
	}
	for goarch, a := range elfArch {
		if a.machine == m && a.class == c && a.order == order {
			pf.Arch = goarch
		}
	}
	if pf.Arch == "" {
		pf.Arch = fmt.Sprintf("%s %s %s", strings.TrimPrefix(m.String(), "EM_"), pf.Class, order)
	}
}

// parseInlineBuildInfo decodes the contents of a .go.buildinfo section in
// the format of Go 1.18 and later: a 32-byte header starting with a magic
// string, whose flags say the strings follow inline, then the Go version
// and the module information as varint-length-prefixed strings.
func parseInlineBuildInfo(b []byte) *debug.BuildInfo {
	const magic, headerSize, flagsInline = "\xff Go buildinf:", 32, 0x2
	if len(b) < headerSize || string(b[:len(magic)]) != magic || b[15]&flagsInline == 0 {
		return nil
	}
	b = b[headerSize:]
	next := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return "", false
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, true
	}
	vers, ok1 := next()
	mod, ok2 := next()
	if !ok1 || !ok2 || vers == "" {
		return nil
	}
	// Strip the sentinels around the module information (as
	// debug/buildinfo does).
	if len(mod) >= 33 && mod[len(mod)-17] == '\n' {
		mod = mod[16 : len(mod)-16]
	} else {
		mod = ""
	}
	bi, err := debug.ParseBuildInfo(mod)
	if err != nil {
		return nil
	}
	bi.GoVersion = vers
	return bi
}

func elfTypeName(t elf.Type) string {
	switch t {
	case elf.ET_EXEC:
		return "executable (ET_EXEC)"
	case elf.ET_REL:
		return "object file (ET_REL)"
	case elf.ET_CORE:
		return "core dump (ET_CORE)"
	}
	return t.String()
}

// machoArch is the Mach-O CPU of each GOARCH that darwin supports.
var machoArch = map[macho.Cpu]string{macho.CpuAmd64: "amd64", macho.CpuArm64: "arm64"}

func readMachOHeader(f io.ReaderAt) (*File, error) {
	mf, err := macho.NewFile(f)
	if err != nil {
		return nil, fmt.Errorf("%w: corrupt or fat Mach-O file: %w", ErrNotPlugin, err)
	}
	pf := &File{Format: "Mach-O", Arch: machoArch[mf.Cpu], Class: "64-bit"}
	if pf.Arch == "" {
		pf.Arch = mf.Cpu.String()
	}
	return pf, nil
}

// CheckPlatform reports a plugin that this process cannot load because it
// was built for another OS or architecture.
func (pf *File) CheckPlatform() error {
	host := goruntime.GOOS + "/" + goruntime.GOARCH
	if pf.Arch != goruntime.GOARCH {
		return fmt.Errorf("%w: the file is a %s %s shared object for %s, this program runs on %s", ErrPlatform, pf.Class, pf.Format, pf.Arch, host)
	}
	if got := settings.Get(pf.BuildInfo, "GOOS") + "/" + settings.Get(pf.BuildInfo, "GOARCH"); got != host {
		return fmt.Errorf("%w: built for %s, this program runs on %s", ErrPlatform, got, host)
	}
	return nil
}

// Symbols returns the contents of the data symbols of the plugin that q
// asks for: from the full symbol table, or from the dynamic one when the
// file is stripped. Mach-O files go through debug/macho, behind a recover.
func (pf *File) Symbols(q Query) (syms []Symbol, err error) {
	if pf.elf == nil {
		defer func() {
			if r := recover(); r != nil {
				syms, err = nil, fmt.Errorf("%w: malformed Mach-O file (%v)", ErrNotPlugin, r)
			}
		}()
		return readMachOSymbols(pf.r, q)
	}
	tab := pf.elf.sectionOfType(elf.SHT_SYMTAB)
	if tab == nil {
		tab = pf.elf.sectionOfType(elf.SHT_DYNSYM)
	}
	if tab == nil {
		return nil, nil
	}
	return pf.elf.symbols(tab, q)
}

// readMachOSymbols reads up to maxSymbolSize bytes from each matching
// symbol; Mach-O does not record symbol sizes, so callers must find the end
// of the data themselves (the metadata is self-delimiting JSON).
func readMachOSymbols(f io.ReaderAt, q Query) ([]Symbol, error) {
	mf, err := macho.NewFile(f)
	if err != nil {
		return nil, fmt.Errorf("%w: corrupt Mach-O file: %w", ErrNotPlugin, err)
	}
	if mf.Symtab == nil {
		return nil, nil
	}
	var found []Symbol
	for _, s := range mf.Symtab.Syms {
		if !strings.HasPrefix(s.Name, q.Prefix) || q.Match != nil && !q.Match([]byte(s.Name)) || s.Sect == 0 || int(s.Sect) > len(mf.Sections) {
			continue
		}
		sec := mf.Sections[s.Sect-1]
		if s.Value < sec.Addr || s.Value >= sec.Addr+sec.Size || sec.ReaderAt == nil {
			continue
		}
		if len(found) == q.Max {
			return nil, fmt.Errorf("%w: more than %d symbols called %s...", ErrNotPlugin, q.Max, runtime.Quote(q.Prefix))
		}
		data := make([]byte, min(sec.Addr+sec.Size-s.Value, uint64(q.Size)))
		if _, err := sec.ReadAt(data, int64(s.Value-sec.Addr)); err != nil {
			return nil, fmt.Errorf("read symbol %s: %w", s.Name, err)
		}
		found = append(found, Symbol{Name: s.Name, Data: data})
	}
	return found, nil
}
