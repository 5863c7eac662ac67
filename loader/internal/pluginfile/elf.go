package pluginfile

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/plugink/plugink/runtime"
)

// elfFile is the headers of an ELF file, read by readELF with every count,
// offset and size checked against the file before anything is allocated
// or read: a hostile file gets an error, never a panic, a hang or a large
// allocation. (debug/elf, by contrast, leaves a compressed section without
// a reader, which its users then dereference.)
type elfFile struct {
	r       io.ReaderAt
	size    int64
	class   elf.Class
	order   endian
	typ     elf.Type
	machine elf.Machine
	ident   [elf.EI_NIDENT]byte
	version uint32 // e_version
	phoff   uint64
	progs   []elfProg
	sects   []elfSect
	// head is the start of the file that its first, read-only segment
	// maps (headers, symbol, string, hash, version and relocation
	// tables), read once when first needed, up to headEnd.
	head    []byte
	headEnd uint64
	// mem is the whole file, when it is mapped (see package mapped): then
	// bytesAt reads nothing.
	mem []byte
}

// elfProg is a program header.
type elfProg struct {
	typ                              elf.ProgType
	flags                            elf.ProgFlag
	off, vaddr, filesz, memsz, align uint64
}

// elfSect is a section header, with its name.
type elfSect struct {
	name                   string
	typ                    elf.SectionType
	flags                  elf.SectionFlag
	addr, off, size, entsz uint64
	link                   uint32
}

// endian decodes the file's integers: a concrete type rather than
// binary.ByteOrder, whose calls through an interface cost more than the
// decoding when a table of tens of thousands of entries is checked.
type endian struct{ big bool }

func (e endian) Uint16(b []byte) uint16 {
	if e.big {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (e endian) Uint32(b []byte) uint32 {
	if e.big {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (e endian) Uint64(b []byte) uint64 {
	if e.big {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}

// byteOrder returns e as a binary.ByteOrder.
func (e endian) byteOrder() binary.ByteOrder {
	if e.big {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// maxSectionRead bounds what the loader reads of one section or table: the
// symbol and string tables of a large Go plugin are a few megabytes.
const maxSectionRead = 256 << 20

// errELF reports a malformed ELF file.
func errELF(format string, args ...any) error {
	return fmt.Errorf("%w: corrupt ELF file: %s", ErrNotPlugin, fmt.Sprintf(format, args...))
}

// readELF reads and checks the ELF header, the program headers and the
// section headers (with their names) of the file r of the given size.
func readELF(r io.ReaderAt, size int64) (*elfFile, error) {
	var ident [elf.EI_NIDENT]byte
	if _, err := r.ReadAt(ident[:], 0); err != nil {
		return nil, errELF("header: %v", err)
	}
	f := &elfFile{r: r, size: size, class: elf.Class(ident[elf.EI_CLASS]), ident: ident}
	if m, ok := r.(interface{ Bytes() []byte }); ok && int64(len(m.Bytes())) == size {
		f.mem = m.Bytes()
	}
	switch elf.Data(ident[elf.EI_DATA]) {
	case elf.ELFDATA2LSB:
	case elf.ELFDATA2MSB:
		f.order = endian{big: true}
	default:
		return nil, errELF("unknown byte order %d", ident[elf.EI_DATA])
	}
	if v := elf.Version(ident[elf.EI_VERSION]); v != elf.EV_CURRENT {
		return nil, errELF("version %d", v)
	}
	hdr, err := f.header()
	if err != nil {
		return nil, err
	}
	if f.progs, err = f.readProgs(hdr); err != nil {
		return nil, err
	}
	for _, p := range f.progs {
		if p.typ == elf.PT_LOAD {
			if p.off == 0 && p.flags&(elf.PF_W|elf.PF_X) == 0 && p.filesz <= maxSectionRead && f.inFile(0, p.filesz) {
				f.headEnd = p.filesz
			}
			break
		}
	}
	if f.sects, err = f.readSects(hdr); err != nil {
		return nil, err
	}
	return f, nil
}

// elfHeader is the part of the ELF header that locates the tables.
type elfHeader struct {
	phoff, shoff                                                         uint64
	ehsize, phentsize, phnum, shentsize, shnum, shstrndx, wantPh, wantSh uint16
}

func (f *elfFile) header() (*elfHeader, error) {
	var b [64]byte
	h := &elfHeader{}
	switch f.class {
	case elf.ELFCLASS64:
		if _, err := f.r.ReadAt(b[:64], 0); err != nil {
			return nil, errELF("header: %v", err)
		}
		h.phoff, h.shoff = f.order.Uint64(b[32:]), f.order.Uint64(b[40:])
		h.ehsize, h.phentsize, h.phnum = f.order.Uint16(b[52:]), f.order.Uint16(b[54:]), f.order.Uint16(b[56:])
		h.shentsize, h.shnum, h.shstrndx = f.order.Uint16(b[58:]), f.order.Uint16(b[60:]), f.order.Uint16(b[62:])
		h.wantPh, h.wantSh = 56, 64
		if h.ehsize != 64 {
			return nil, errELF("header size %d, want 64", h.ehsize)
		}
	case elf.ELFCLASS32:
		if _, err := f.r.ReadAt(b[:52], 0); err != nil {
			return nil, errELF("header: %v", err)
		}
		h.phoff, h.shoff = uint64(f.order.Uint32(b[28:])), uint64(f.order.Uint32(b[32:]))
		h.ehsize, h.phentsize, h.phnum = f.order.Uint16(b[40:]), f.order.Uint16(b[42:]), f.order.Uint16(b[44:])
		h.shentsize, h.shnum, h.shstrndx = f.order.Uint16(b[46:]), f.order.Uint16(b[48:]), f.order.Uint16(b[50:])
		h.wantPh, h.wantSh = 32, 40
		if h.ehsize != 52 {
			return nil, errELF("header size %d, want 52", h.ehsize)
		}
	default:
		return nil, errELF("unknown class %d", f.class)
	}
	f.typ, f.machine, f.phoff = elf.Type(f.order.Uint16(b[16:])), elf.Machine(f.order.Uint16(b[18:])), h.phoff
	f.version = f.order.Uint32(b[20:])
	return h, nil
}

// table returns the bytes of a table of n entries of entsize bytes at off,
// checking that it lies in the file.
func (f *elfFile) table(what string, off uint64, n, entsize, want uint16) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	if entsize != want {
		return nil, errELF("%s entry size %d, want %d", what, entsize, want)
	}
	total := uint64(n) * uint64(entsize)
	if !f.inFile(off, total) {
		return nil, errELF("%s table (%d bytes at %#x) lies past the end of the file (%d bytes)", what, total, off, f.size)
	}
	b := make([]byte, total)
	if _, err := f.r.ReadAt(b, int64(off)); err != nil {
		return nil, errELF("read %s table: %v", what, err)
	}
	return b, nil
}

// inFile reports whether n bytes at off lie inside the file.
func (f *elfFile) inFile(off, n uint64) bool {
	return off <= uint64(f.size) && n <= uint64(f.size)-off
}

func (f *elfFile) readProgs(h *elfHeader) ([]elfProg, error) {
	b, err := f.table("program header", h.phoff, h.phnum, h.phentsize, h.wantPh)
	if err != nil {
		return nil, err
	}
	progs := make([]elfProg, h.phnum)
	for i := range progs {
		e, p := b[i*int(h.phentsize):], &progs[i]
		o := f.order
		if f.class == elf.ELFCLASS64 {
			p.typ, p.flags = elf.ProgType(o.Uint32(e)), elf.ProgFlag(o.Uint32(e[4:]))
			p.off, p.vaddr, p.filesz, p.memsz, p.align = o.Uint64(e[8:]), o.Uint64(e[16:]), o.Uint64(e[32:]), o.Uint64(e[40:]), o.Uint64(e[48:])
		} else {
			p.typ, p.off, p.vaddr = elf.ProgType(o.Uint32(e)), uint64(o.Uint32(e[4:])), uint64(o.Uint32(e[8:]))
			p.filesz, p.memsz, p.flags, p.align = uint64(o.Uint32(e[16:])), uint64(o.Uint32(e[20:])), elf.ProgFlag(o.Uint32(e[24:])), uint64(o.Uint32(e[28:]))
		}
	}
	return progs, nil
}

func (f *elfFile) readSects(h *elfHeader) ([]elfSect, error) {
	if h.shnum == 0 {
		if h.shoff != 0 {
			return nil, errELF("extended section numbering, which Go's linker does not write")
		}
		return nil, nil
	}
	b, err := f.table("section header", h.shoff, h.shnum, h.shentsize, h.wantSh)
	if err != nil {
		return nil, err
	}
	sects := make([]elfSect, h.shnum)
	nameOffs := make([]uint32, h.shnum)
	for i := range sects {
		e, s, o := b[i*int(h.shentsize):], &sects[i], f.order
		nameOffs[i], s.typ = o.Uint32(e), elf.SectionType(o.Uint32(e[4:]))
		if f.class == elf.ELFCLASS64 {
			s.flags, s.addr, s.off, s.size = elf.SectionFlag(o.Uint64(e[8:])), o.Uint64(e[16:]), o.Uint64(e[24:]), o.Uint64(e[32:])
			s.link, s.entsz = o.Uint32(e[40:]), o.Uint64(e[56:])
		} else {
			s.flags, s.addr, s.off, s.size = elf.SectionFlag(o.Uint32(e[8:])), uint64(o.Uint32(e[12:])), uint64(o.Uint32(e[16:])), uint64(o.Uint32(e[20:]))
			s.link, s.entsz = o.Uint32(e[24:]), uint64(o.Uint32(e[36:]))
		}
		if s.typ != elf.SHT_NOBITS && s.typ != elf.SHT_NULL && !f.inFile(s.off, s.size) {
			return nil, errELF("section %d (%d bytes at %#x) lies past the end of the file", i, s.size, s.off)
		}
	}
	if h.shstrndx >= h.shnum {
		return nil, errELF("section name table index %d out of range (%d sections)", h.shstrndx, h.shnum)
	}
	names, err := f.sectionData(&sects[h.shstrndx])
	if err != nil {
		return nil, err
	}
	for i := range sects {
		if int64(nameOffs[i]) >= int64(len(names)) {
			return nil, errELF("section %d: name offset %d out of range", i, nameOffs[i])
		}
		n := names[nameOffs[i]:]
		if end := bytes.IndexByte(n, 0); end >= 0 {
			n = n[:end]
		}
		sects[i].name = string(n)
	}
	return sects, nil
}

// sectionData returns the contents of s, at most maxSectionRead bytes.
// The caller must not modify them.
func (f *elfFile) sectionData(s *elfSect) ([]byte, error) {
	switch {
	case s.typ == elf.SHT_NOBITS:
		return nil, errELF("section %s has no contents in the file", s.name)
	case s.flags&elf.SHF_COMPRESSED != 0:
		return nil, errELF("section %s is compressed, which Go's linker does only for debug sections", s.name)
	case s.size > maxSectionRead:
		return nil, errELF("section %s is %d bytes, over %d", s.name, s.size, maxSectionRead)
	}
	b, err := f.bytesAt(s.off, s.size)
	if err != nil {
		return nil, errELF("read section %s: %v", s.name, err)
	}
	return b, nil
}

// bytesAt returns the n bytes at off, which lie in the file: from the
// mapped file, or the head, if they lie there, else read. The caller must
// not modify them, nor keep them past the file's mapping (see package mapped).
func (f *elfFile) bytesAt(off, n uint64) ([]byte, error) {
	if f.mem != nil {
		if off > uint64(len(f.mem)) || n > uint64(len(f.mem))-off {
			return nil, io.ErrUnexpectedEOF
		}
		return f.mem[off : off+n : off+n], nil
	}
	if off+n <= f.headEnd {
		if f.head == nil {
			head := make([]byte, f.headEnd)
			if _, err := f.r.ReadAt(head, 0); err != nil {
				return nil, err
			}
			f.head = head
		}
		return f.head[off : off+n], nil
	}
	b := make([]byte, n)
	if _, err := f.r.ReadAt(b, int64(off)); err != nil {
		return nil, err
	}
	return b, nil
}

// section returns the first section called name, or nil.
func (f *elfFile) section(name string) *elfSect {
	for i := range f.sects {
		if f.sects[i].name == name {
			return &f.sects[i]
		}
	}
	return nil
}

// sectionOfType returns the first section of type t, or nil.
func (f *elfFile) sectionOfType(t elf.SectionType) *elfSect {
	for i := range f.sects {
		if f.sects[i].typ == t {
			return &f.sects[i]
		}
	}
	return nil
}

// Symbol is a data symbol of a plugin, with its contents.
type Symbol struct {
	// Name is the symbol's name.
	Name string
	// Data is its contents.
	Data []byte
}

// maxSymbolSize bounds what the loader reads of one symbol.
const maxSymbolSize = 1 << 20

// Query says which symbols [File.Symbols] returns: names that start with
// Prefix and that Match accepts (if set), at most Max of them, each at most
// Size bytes: what the caller expects (an 8-byte fingerprint, an import
// path), so that a crafted table cannot make a scan read gigabytes.
type Query struct {
	Prefix    string
	Match     func(name []byte) bool
	Max, Size int
}

// symbols returns the data symbols of the symbol table tab (SHT_SYMTAB or
// SHT_DYNSYM) that q asks for, with their contents. The prefix test comes
// first, so that a scan for a few names of tens of thousands costs little.
func (f *elfFile) symbols(tab *elfSect, q Query) ([]Symbol, error) {
	prefix := q.Prefix
	entsize := uint64(24)
	if f.class == elf.ELFCLASS32 {
		entsize = 16
	}
	if tab.entsz != entsize {
		return nil, errELF("symbol table %s: entry size %d, want %d", tab.name, tab.entsz, entsize)
	}
	if int(tab.link) >= len(f.sects) {
		return nil, errELF("symbol table %s: string table index %d out of range", tab.name, tab.link)
	}
	syms, err := f.sectionData(tab)
	if err != nil {
		return nil, err
	}
	strs, err := f.sectionData(&f.sects[tab.link])
	if err != nil {
		return nil, err
	}
	var found []Symbol
	for off := entsize; off+entsize <= uint64(len(syms)); off += entsize { // entry 0 is reserved
		e := syms[off : off+entsize]
		nameOff := uint64(f.order.Uint32(e))
		if nameOff >= uint64(len(strs)) || prefix != "" && (strs[nameOff] != prefix[0] || !bytes.HasPrefix(strs[nameOff:], []byte(prefix))) {
			continue
		}
		name := strs[nameOff:]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if q.Match != nil && !q.Match(name) {
			continue
		}
		if len(found) == q.Max {
			return nil, errELF("symbol table %s: more than %d symbols called %s...", tab.name, q.Max, runtime.Quote(prefix))
		}
		var shndx uint16
		var value, size uint64
		if entsize == 24 {
			shndx, value, size = f.order.Uint16(e[6:]), f.order.Uint64(e[8:]), f.order.Uint64(e[16:])
		} else {
			value, size, shndx = uint64(f.order.Uint32(e[4:])), uint64(f.order.Uint32(e[8:])), f.order.Uint16(e[14:])
		}
		if size > uint64(q.Size) {
			return nil, errELF("symbol %s: %d bytes, over %d", runtime.Quote(string(name)), size, q.Size)
		}
		data, err := f.symbolData(shndx, value, size)
		if err != nil {
			return nil, fmt.Errorf("symbol %s: %w", name, err)
		}
		found = append(found, Symbol{Name: string(name), Data: data})
	}
	return found, nil
}

// symbolData reads size bytes at address value of section shndx.
func (f *elfFile) symbolData(shndx uint16, value, size uint64) ([]byte, error) {
	if shndx == uint16(elf.SHN_UNDEF) || int(shndx) >= len(f.sects) {
		return nil, errELF("section index %d out of range", shndx)
	}
	s := &f.sects[shndx]
	if size > maxSymbolSize || value < s.addr || value-s.addr > s.size || size > s.size-(value-s.addr) {
		return nil, errELF("symbol at %#x (%d bytes) lies outside section %s", value, size, s.name)
	}
	switch {
	case s.typ == elf.SHT_NOBITS:
		return make([]byte, size), nil
	case s.flags&elf.SHF_COMPRESSED != 0:
		return nil, errELF("section %s is compressed", s.name)
	}
	data, err := f.bytesAt(s.off+(value-s.addr), size)
	if err != nil {
		return nil, errELF("read symbol at %#x: %v", value, err)
	}
	return bytes.Clone(data), nil // the caller keeps it
}

// buildInfoBytes returns the contents of the .go.buildinfo section.
func (f *elfFile) buildInfoBytes() ([]byte, error) {
	s := f.section(".go.buildinfo")
	if s == nil {
		return nil, errors.New("no .go.buildinfo section")
	}
	return f.sectionData(s)
}
