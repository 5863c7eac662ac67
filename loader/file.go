package loader

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"debug/macho"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"strings"
)

// pluginFile is what the loader reads from a plugin file without opening it
// as a plugin.
type pluginFile struct {
	format     string // "ELF" or "Mach-O"
	arch       string // GOARCH the header says, "" if unknown
	class      string // "32-bit" or "64-bit"
	bi         *debug.BuildInfo
	pluginpath string // "" if the build info does not say (built from files)
}

// cmdlinePath is the build info path of a package built from a list of
// files; its plugins get the pluginpath "plugin/unnamed-<hash>".
const cmdlinePath = "command-line-arguments"

// readPluginFile checks that f is a Go plugin — an ELF or Mach-O shared
// object with Go build information and -buildmode=plugin — and returns what
// its headers say. It reads headers and the build info only, not the symbol
// table.
func readPluginFile(f *os.File) (*pluginFile, error) {
	var magic [4]byte
	if _, err := f.ReadAt(magic[:], 0); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: file too short to be a shared object", ErrNotPlugin)
		}
		return nil, err
	}
	var pf *pluginFile
	var err error
	switch {
	case string(magic[:]) == elf.ELFMAG:
		if pf = readGoELF(f); pf != nil {
			break // the common case, read quickly
		}
		pf, err = readELFHeader(f)
	case isMachO(magic):
		pf, err = readMachOHeader(f)
	default:
		return nil, fmt.Errorf("%w: not an ELF or Mach-O shared object (file starts with %q)", ErrNotPlugin, magic[:])
	}
	if err != nil {
		return nil, err
	}
	if pf.bi == nil {
		if pf.bi, err = buildinfo.Read(f); err != nil {
			return nil, fmt.Errorf("%w: no Go build information in this %s file (%w)", ErrNotPlugin, pf.format, err)
		}
	}
	if mode := setting(pf.bi, "-buildmode"); mode != "plugin" {
		return nil, fmt.Errorf("%w: built with -buildmode=%s, not -buildmode=plugin", ErrNotPlugin, mode)
	}
	if pf.bi.Path != cmdlinePath {
		pf.pluginpath = pf.bi.Path
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

func readELFHeader(f *os.File) (*pluginFile, error) {
	pf := &pluginFile{format: "ELF"}
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil, fmt.Errorf("%w: corrupt ELF file: %w", ErrNotPlugin, err)
	}
	pf.setELFArch(ef.Machine, ef.Class, ef.ByteOrder)
	if ef.Type != elf.ET_DYN {
		return nil, fmt.Errorf("%w: an ELF %s, not a shared object (ET_DYN)", ErrNotPlugin, elfTypeName(ef.Type))
	}
	return pf, nil
}

// setELFArch sets pf's architecture and word size from an ELF header.
func (pf *pluginFile) setELFArch(m elf.Machine, c elf.Class, order binary.ByteOrder) {
	pf.class = "64-bit"
	if c == elf.ELFCLASS32 {
		pf.class = "32-bit"
	}
	for goarch, a := range elfArch {
		if a.machine == m && a.class == c && a.order == order {
			pf.arch = goarch
		}
	}
	if pf.arch == "" {
		pf.arch = fmt.Sprintf("%s %s %s", strings.TrimPrefix(m.String(), "EM_"), pf.class, order)
	}
}

// readGoELF reads the header and the build information of an ELF shared
// object written by Go's linker, in a handful of small reads (debug/elf and
// debug/buildinfo together take several times longer, mostly in the first
// call of a process). It returns nil for anything else — another type of
// ELF file, old-style build information, a damaged file — which the
// general path then reads, and explains if need be.
func readGoELF(f io.ReaderAt) *pluginFile {
	var h [64]byte // an ELF64 header; an ELF32 one is shorter
	if _, err := f.ReadAt(h[:], 0); err != nil {
		return nil
	}
	var order binary.ByteOrder
	switch elf.Data(h[elf.EI_DATA]) {
	case elf.ELFDATA2LSB:
		order = binary.LittleEndian
	case elf.ELFDATA2MSB:
		order = binary.BigEndian
	default:
		return nil
	}
	class := elf.Class(h[elf.EI_CLASS])
	typ, machine := elf.Type(order.Uint16(h[16:])), elf.Machine(order.Uint16(h[18:]))
	var shoff uint64
	var shentsize, shnum, shstrndx uint16
	switch class {
	case elf.ELFCLASS64:
		shoff, shentsize, shnum, shstrndx = order.Uint64(h[40:]), order.Uint16(h[58:]), order.Uint16(h[60:]), order.Uint16(h[62:])
		if shentsize != 64 {
			return nil
		}
	case elf.ELFCLASS32:
		shoff, shentsize, shnum, shstrndx = uint64(order.Uint32(h[32:])), order.Uint16(h[46:]), order.Uint16(h[48:]), order.Uint16(h[50:])
		if shentsize != 40 {
			return nil
		}
	default:
		return nil
	}
	if typ != elf.ET_DYN || shnum == 0 || shstrndx >= shnum || shoff > 1<<40 {
		return nil
	}
	// Go's linker writes section headers of the standard size, which the
	// checks above require: at most 65535 of them, 4 MB, so a damaged
	// header cannot make this allocate gigabytes.
	shdrs := make([]byte, int(shnum)*int(shentsize))
	if _, err := f.ReadAt(shdrs, int64(shoff)); err != nil {
		return nil
	}
	// offset and size of section i's contents
	section := func(i int) (off, size uint64) {
		h := shdrs[i*int(shentsize):]
		if class == elf.ELFCLASS64 {
			return order.Uint64(h[24:32]), order.Uint64(h[32:40])
		}
		return uint64(order.Uint32(h[16:20])), uint64(order.Uint32(h[20:24]))
	}
	readSection := func(i int) []byte {
		off, size := section(i)
		if size > maxSymbolSize {
			return nil
		}
		b := make([]byte, size)
		if _, err := f.ReadAt(b, int64(off)); err != nil {
			return nil
		}
		return b
	}
	names := readSection(int(shstrndx))
	for i := range int(shnum) {
		nameOff := order.Uint32(shdrs[i*int(shentsize):])
		if int(nameOff) >= len(names) || !bytes.HasPrefix(names[nameOff:], []byte(".go.buildinfo\x00")) {
			continue
		}
		bi := parseInlineBuildInfo(readSection(i))
		if bi == nil {
			return nil
		}
		pf := &pluginFile{format: "ELF", bi: bi}
		pf.setELFArch(machine, class, order)
		return pf
	}
	return nil
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

func readMachOHeader(f *os.File) (*pluginFile, error) {
	mf, err := macho.NewFile(f)
	if err != nil {
		return nil, fmt.Errorf("%w: corrupt or fat Mach-O file: %w", ErrNotPlugin, err)
	}
	pf := &pluginFile{format: "Mach-O", arch: machoArch[mf.Cpu], class: "64-bit"}
	if pf.arch == "" {
		pf.arch = mf.Cpu.String()
	}
	return pf, nil
}

// checkPlatform reports a plugin that this process cannot load because it
// was built for another OS or architecture.
func checkPlatform(pf *pluginFile) error {
	host := goruntime.GOOS + "/" + goruntime.GOARCH
	if pf.arch != goruntime.GOARCH {
		return fmt.Errorf("%w: the file is a %s %s shared object for %s, this program runs on %s", ErrPlatform, pf.class, pf.format, pf.arch, host)
	}
	if got := setting(pf.bi, "GOOS") + "/" + setting(pf.bi, "GOARCH"); got != host {
		return fmt.Errorf("%w: built for %s, this program runs on %s", ErrPlatform, got, host)
	}
	return nil
}

// setting returns the build setting key of bi, "" if it is not recorded.
func setting(bi *debug.BuildInfo, key string) string {
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

// symbol is a data symbol found in a plugin's symbol table.
type symbol struct {
	name string
	data []byte
}

// readSymbols returns the contents of the data symbols of f whose names
// match. It scans the raw symbol table rather than decoding every symbol,
// which for a Go plugin (tens of thousands of symbols) is several times
// faster than debug/elf's Symbols.
func readSymbols(f *os.File, match func(name []byte) bool) ([]symbol, error) {
	var magic [4]byte
	if _, err := f.ReadAt(magic[:], 0); err != nil {
		return nil, err
	}
	if isMachO(magic) {
		return readMachOSymbols(f, match)
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil, fmt.Errorf("%w: corrupt ELF file: %w", ErrNotPlugin, err)
	}
	return readELFSymbols(ef, match)
}

func readELFSymbols(ef *elf.File, match func(name []byte) bool) ([]symbol, error) {
	// The full table has local symbols (go:link.thispluginpath); a stripped
	// file still has the dynamic one, with the exported variables.
	tab := sectionOfType(ef, elf.SHT_SYMTAB)
	if tab == nil {
		tab = sectionOfType(ef, elf.SHT_DYNSYM)
	}
	if tab == nil || int(tab.Link) >= len(ef.Sections) {
		return nil, nil
	}
	syms, err := tab.Data()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", tab.Name, err)
	}
	strs, err := ef.Sections[tab.Link].Data()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ef.Sections[tab.Link].Name, err)
	}
	size := 24
	if ef.Class == elf.ELFCLASS32 {
		size = 16
	}
	bo := ef.ByteOrder
	var found []symbol
	for off := size; off+size <= len(syms); off += size { // entry 0 is reserved
		e := syms[off : off+size]
		nameOff := bo.Uint32(e[0:4])
		if int(nameOff) >= len(strs) {
			continue
		}
		name := strs[nameOff:]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if !match(name) {
			continue
		}
		var shndx uint16
		var value, n uint64
		if size == 24 {
			shndx, value, n = bo.Uint16(e[6:8]), bo.Uint64(e[8:16]), bo.Uint64(e[16:24])
		} else {
			value, n, shndx = uint64(bo.Uint32(e[4:8])), uint64(bo.Uint32(e[8:12])), bo.Uint16(e[14:16])
		}
		data, err := elfSymbolData(ef, shndx, value, n)
		if err != nil {
			return nil, fmt.Errorf("read symbol %s: %w", name, err)
		}
		found = append(found, symbol{name: string(name), data: data})
	}
	return found, nil
}

func sectionOfType(ef *elf.File, t elf.SectionType) *elf.Section {
	for _, s := range ef.Sections {
		if s.Type == t {
			return s
		}
	}
	return nil
}

// maxSymbolSize bounds what readSymbols reads for one symbol, so that a
// corrupt table cannot make it allocate without limit.
const maxSymbolSize = 1 << 20

func elfSymbolData(ef *elf.File, shndx uint16, value, size uint64) ([]byte, error) {
	if int(shndx) >= len(ef.Sections) || shndx == uint16(elf.SHN_UNDEF) {
		return nil, fmt.Errorf("section index %d out of range", shndx)
	}
	s := ef.Sections[shndx]
	if size > maxSymbolSize || value < s.Addr || value-s.Addr+size > s.Size {
		return nil, fmt.Errorf("symbol at %#x (%d bytes) lies outside section %s", value, size, s.Name)
	}
	data := make([]byte, size)
	if s.Type == elf.SHT_NOBITS {
		return data, nil
	}
	if _, err := s.ReadAt(data, int64(value-s.Addr)); err != nil {
		return nil, err
	}
	return data, nil
}

// readMachOSymbols reads up to maxSymbolSize bytes from each matching
// symbol; Mach-O does not record symbol sizes, so callers must find the end
// of the data themselves (the metadata is self-delimiting JSON).
func readMachOSymbols(f *os.File, match func(name []byte) bool) ([]symbol, error) {
	mf, err := macho.NewFile(f)
	if err != nil {
		return nil, fmt.Errorf("%w: corrupt Mach-O file: %w", ErrNotPlugin, err)
	}
	if mf.Symtab == nil {
		return nil, nil
	}
	var found []symbol
	for _, s := range mf.Symtab.Syms {
		if !match([]byte(s.Name)) || s.Sect == 0 || int(s.Sect) > len(mf.Sections) {
			continue
		}
		sec := mf.Sections[s.Sect-1]
		if s.Value < sec.Addr || s.Value >= sec.Addr+sec.Size {
			continue
		}
		data := make([]byte, min(sec.Addr+sec.Size-s.Value, maxSymbolSize))
		if _, err := sec.ReadAt(data, int64(s.Value-sec.Addr)); err != nil {
			return nil, fmt.Errorf("read symbol %s: %w", s.Name, err)
		}
		found = append(found, symbol{name: s.Name, data: data})
	}
	return found, nil
}
