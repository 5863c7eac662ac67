package pluginfile

import (
	"debug/elf"
	"fmt"
	"slices"
)

// CheckLoadable checks, for an ELF file, what the dynamic linker relies on when it maps a
// shared object, so that a damaged file is refused with an error instead
// of crashing the process inside dlopen: the program headers (which
// segments are mapped, where), the dynamic section, the tables it points
// to, and where the relocations write. The dynamic linker ignores section
// headers; so does this check.
//
// It is a structural check of the layout Go's linker writes, not a proof:
// a file that passes may still fail to open. The loader therefore also
// opens a file it cannot verify by checksum in a child process first
// (see the loader's WithoutTrial).
func (pf *File) CheckLoadable() error {
	if pf.elf == nil {
		return nil
	}
	return pf.elf.checkLoadable()
}

// checkLoadable is CheckLoadable of an ELF file.
func (f *elfFile) checkLoadable() error {
	if f.typ != elf.ET_DYN {
		return fmt.Errorf("%w: an ELF %s, not a shared object (ET_DYN)", ErrNotPlugin, elfTypeName(f.typ))
	}
	if err := f.checkIdent(); err != nil {
		return err
	}
	loads, dyn, err := f.checkProgs()
	if err != nil {
		return err
	}
	m := &elfMemory{f: f, loads: loads}
	d, err := m.dynamic(dyn)
	if err != nil {
		return err
	}
	for _, check := range []func(*dynamicTable) error{m.checkTags, m.checkTables, m.checkHash, m.matchSections, m.checkSymbols, m.checkVersions, m.checkRelocs, m.checkInit} {
		if err := check(d); err != nil {
			return err
		}
	}
	return nil
}

// checkIdent checks what the dynamic linker checks of the ELF header
// before mapping anything: the ABI, its version, the padding, e_version.
func (f *elfFile) checkIdent() error {
	switch {
	case f.ident[elf.EI_OSABI] != byte(elf.ELFOSABI_NONE) && f.ident[elf.EI_OSABI] != byte(elf.ELFOSABI_LINUX) && f.ident[elf.EI_OSABI] != byte(elf.ELFOSABI_FREEBSD):
		return errELF("OS ABI %d", f.ident[elf.EI_OSABI])
	case f.ident[elf.EI_ABIVERSION] != 0:
		return errELF("ABI version %d", f.ident[elf.EI_ABIVERSION])
	case slices.ContainsFunc(f.ident[elf.EI_PAD:], func(b byte) bool { return b != 0 }):
		return errELF("nonzero padding in the identification bytes")
	case f.version != uint32(elf.EV_CURRENT):
		return errELF("e_version %d", f.version)
	}
	return nil
}

// allowedProgs are the program header types Go's linker writes into a
// plugin (PT_PHDR on some platforms).
var allowedProgs = []elf.ProgType{elf.PT_NULL, elf.PT_LOAD, elf.PT_DYNAMIC, elf.PT_NOTE, elf.PT_TLS, elf.PT_PHDR,
	elf.PT_GNU_EH_FRAME, elf.PT_GNU_STACK, elf.PT_GNU_RELRO, elf.PT_GNU_PROPERTY}

// maxSegment bounds a segment's size in memory.
const maxSegment = 1 << 32

// checkProgs checks the program headers and returns the PT_LOAD segments
// and the PT_DYNAMIC one.
func (f *elfFile) checkProgs() (loads []elfProg, dyn *elfProg, err error) {
	if len(f.progs) == 0 {
		return nil, nil, errELF("no program headers")
	}
	for i := range f.progs {
		p := &f.progs[i]
		bad := func(format string, args ...any) error {
			return errELF("program header %d (%s): %s", i, p.typ, fmt.Sprintf(format, args...))
		}
		switch {
		case !slices.Contains(allowedProgs, p.typ):
			return nil, nil, errELF("program header %d has type %#x, which Go's linker does not write", i, uint32(p.typ))
		case p.filesz > p.memsz:
			return nil, nil, bad("%d bytes in the file but %d in memory", p.filesz, p.memsz)
		case p.memsz > maxSegment:
			return nil, nil, bad("%d bytes in memory", p.memsz)
		case p.typ != elf.PT_GNU_STACK && !f.inFile(p.off, p.filesz):
			return nil, nil, bad("%d bytes at %#x lie past the end of the file", p.filesz, p.off)
		case p.vaddr > maxSegment<<8 || p.memsz > maxSegment<<8-p.vaddr:
			return nil, nil, bad("address %#x out of range", p.vaddr)
		}
		switch p.typ {
		case elf.PT_LOAD:
			if p.flags&elf.PF_W == 0 && p.filesz != p.memsz {
				return nil, nil, bad("a read-only segment with %d bytes in the file but %d in memory", p.filesz, p.memsz)
			}
			if err := checkLoad(p, loads); err != nil {
				return nil, nil, bad("%v", err)
			}
			loads = append(loads, *p)
		case elf.PT_DYNAMIC:
			if dyn != nil {
				return nil, nil, errELF("two PT_DYNAMIC program headers")
			}
			dyn = p
		}
	}
	switch {
	case len(loads) == 0:
		return nil, nil, errELF("no PT_LOAD program header: nothing to map")
	case dyn == nil:
		return nil, nil, errELF("no PT_DYNAMIC program header")
	}
	m := &elfMemory{f: f, loads: loads}
	for _, p := range f.progs {
		if p.typ == elf.PT_GNU_RELRO && !m.writable(p.vaddr, p.memsz) {
			return nil, nil, errELF("the read-only-after-relocation range (%d bytes at %#x) is not in a writable segment", p.memsz, p.vaddr)
		}
	}
	return loads, dyn, nil
}

// checkLoad checks a PT_LOAD segment against those before it: page
// aligned, the same offset as address modulo the alignment, in ascending
// order without overlap, as the dynamic linker maps them.
func checkLoad(p *elfProg, before []elfProg) error {
	const page = 4096
	switch {
	case p.align < page || p.align&(p.align-1) != 0 || p.align > 1<<30:
		return fmt.Errorf("alignment %#x is not a power of two of at least a page", p.align)
	case p.off%p.align != p.vaddr%p.align:
		return fmt.Errorf("offset %#x and address %#x differ modulo the alignment %#x", p.off, p.vaddr, p.align)
	case p.memsz == 0:
		return fmt.Errorf("empty")
	}
	if n := len(before); n > 0 {
		prev := before[n-1]
		if p.vaddr < prev.vaddr+prev.memsz {
			return fmt.Errorf("address %#x overlaps or precedes the segment before it (%#x, %d bytes)", p.vaddr, prev.vaddr, prev.memsz)
		}
	}
	return nil
}

// elfMemory is the image the dynamic linker maps: addresses resolve to the
// file through the PT_LOAD segments.
type elfMemory struct {
	f     *elfFile
	loads []elfProg
	last  int // the segment mapped found last: symbols and relocations come in runs
}

// segment returns the PT_LOAD segment whose file-backed part holds the n
// bytes at addr, or nil.
func (m *elfMemory) segment(addr, n uint64) *elfProg {
	for i := range m.loads {
		p := &m.loads[i]
		if addr >= p.vaddr && addr-p.vaddr <= p.filesz && n <= p.filesz-(addr-p.vaddr) {
			return p
		}
	}
	return nil
}

// read returns the n bytes at addr, which must lie in the file-backed part
// of one PT_LOAD segment.
func (m *elfMemory) read(what string, addr, n uint64) ([]byte, error) {
	p := m.segment(addr, n)
	switch {
	case p == nil:
		return nil, errELF("%s (%d bytes at %#x) is not in a loaded segment", what, n, addr)
	case n > maxSectionRead:
		return nil, errELF("%s is %d bytes, over %d", what, n, maxSectionRead)
	}
	b, err := m.f.bytesAt(p.off+(addr-p.vaddr), n)
	if err != nil {
		return nil, errELF("read %s: %v", what, err)
	}
	return b, nil
}

// dynamicTable is the dynamic section's entries, by tag (the last of each
// tag), and the DT_NEEDED string offsets.
type dynamicTable struct {
	tags   map[elf.DynTag]uint64
	order  []elf.DynTag // every tag, in order
	needed []uint64
	nsyms  uint64              // the number of dynamic symbols, as the hash table says
	syms   []byte              // the dynamic symbol table
	relocs map[uint64]elfReloc // the relocations of the init and fini arrays, by address
}

func (m *elfMemory) dynamic(p *elfProg) (*dynamicTable, error) {
	entsize := uint64(16)
	if m.f.class == elf.ELFCLASS32 {
		entsize = 8
	}
	if p.filesz%entsize != 0 || p.filesz == 0 {
		return nil, errELF("dynamic section of %d bytes, not a whole number of %d-byte entries", p.filesz, entsize)
	}
	if s := m.segment(p.vaddr, p.filesz); s == nil || s.off+(p.vaddr-s.vaddr) != p.off {
		return nil, errELF("the dynamic section (%#x) is not where a loaded segment maps it", p.vaddr)
	}
	b, err := m.read("dynamic section", p.vaddr, p.filesz)
	if err != nil {
		return nil, err
	}
	d := &dynamicTable{tags: map[elf.DynTag]uint64{}}
	o := m.f.order
	for i := uint64(0); i < uint64(len(b)); i += entsize {
		var tag elf.DynTag
		var val uint64
		if entsize == 16 {
			tag, val = elf.DynTag(o.Uint64(b[i:])), o.Uint64(b[i+8:])
		} else {
			tag, val = elf.DynTag(o.Uint32(b[i:])), uint64(o.Uint32(b[i+4:]))
		}
		if tag != elf.DT_NULL {
			d.order = append(d.order, tag)
		}
		switch tag {
		case elf.DT_NULL:
			return d, nil
		case elf.DT_NEEDED:
			d.needed = append(d.needed, val)
		default:
			d.tags[tag] = val
		}
	}
	return nil, errELF("dynamic section has no DT_NULL end")
}

// checkTables checks that every table the dynamic section points to lies
// in a loaded segment, with the entry sizes of the ELF class.
func (m *elfMemory) checkTables(d *dynamicTable) error {
	symEnt, relEnt := uint64(24), uint64(24)
	if m.f.class == elf.ELFCLASS32 {
		symEnt, relEnt = 16, 12
	}
	for _, want := range []struct {
		tag  elf.DynTag
		size uint64
	}{{elf.DT_SYMENT, symEnt}, {elf.DT_RELAENT, relEnt}} {
		if v, ok := d.tags[want.tag]; ok && v != want.size {
			return errELF("%s is %d, want %d", want.tag, v, want.size)
		}
	}
	for _, tag := range []elf.DynTag{elf.DT_STRTAB, elf.DT_SYMTAB, elf.DT_STRSZ} {
		if _, ok := d.tags[tag]; !ok {
			return errELF("no %s in the dynamic section", tag)
		}
	}
	if _, gnu := d.tags[elf.DT_GNU_HASH]; !gnu {
		if _, sysv := d.tags[elf.DT_HASH]; !sysv {
			return errELF("no symbol hash table (DT_GNU_HASH or DT_HASH)")
		}
	}
	strs, err := m.read("dynamic string table", d.tags[elf.DT_STRTAB], d.tags[elf.DT_STRSZ])
	if err != nil {
		return err
	}
	for _, off := range d.needed {
		if off >= uint64(len(strs)) || !slices.Contains(strs[off:], 0) {
			return errELF("DT_NEEDED name at %d is not a string of the dynamic string table", off)
		}
	}
	for _, t := range []struct{ addr, size elf.DynTag }{
		{elf.DT_RELA, elf.DT_RELASZ}, {elf.DT_JMPREL, elf.DT_PLTRELSZ},
		{elf.DT_INIT_ARRAY, elf.DT_INIT_ARRAYSZ}, {elf.DT_FINI_ARRAY, elf.DT_FINI_ARRAYSZ}, {elf.DT_REL, elf.DT_RELSZ},
	} {
		addr, ok := d.tags[t.addr]
		if !ok {
			continue
		}
		if m.segment(addr, d.tags[t.size]) == nil {
			return errELF("%s (%d bytes at %#x) is not in a loaded segment", t.addr, d.tags[t.size], addr)
		}
	}
	for _, tag := range []elf.DynTag{elf.DT_SYMTAB, elf.DT_GNU_HASH, elf.DT_HASH, elf.DT_VERSYM, elf.DT_VERNEED, elf.DT_VERDEF, elf.DT_INIT, elf.DT_FINI, elf.DT_PLTGOT} {
		if addr, ok := d.tags[tag]; ok && m.segment(addr, 1) == nil && m.mapped(addr) == nil {
			return errELF("%s (%#x) is not in a loaded segment", tag, addr)
		}
	}
	return nil
}

// sectionOfTag names the section each of these dynamic entries points to,
// and the entry that gives its size, if any.
var sectionOfTag = []struct {
	tag, size elf.DynTag
	section   string
}{
	{elf.DT_INIT, 0, ".init"}, {elf.DT_FINI, 0, ".fini"},
	{elf.DT_INIT_ARRAY, elf.DT_INIT_ARRAYSZ, ".init_array"}, {elf.DT_FINI_ARRAY, elf.DT_FINI_ARRAYSZ, ".fini_array"},
	{elf.DT_GNU_HASH, 0, ".gnu.hash"}, {elf.DT_HASH, 0, ".hash"}, {elf.DT_SYMTAB, 0, ".dynsym"},
	{elf.DT_STRTAB, elf.DT_STRSZ, ".dynstr"}, {elf.DT_VERSYM, 0, ".gnu.version"}, {elf.DT_VERNEED, 0, ".gnu.version_r"},
	{elf.DT_RELA, elf.DT_RELASZ, ".rela.dyn"}, {elf.DT_JMPREL, elf.DT_PLTRELSZ, ".rela.plt"},
}

// matchSections checks the dynamic entries against the section headers
// where both describe the same table: the dynamic linker reads only the
// former, so a damaged entry (a DT_INIT a few bytes off still lies in
// code) shows as a disagreement with the latter. And the loader reads the
// dynamic symbols (the package fingerprints) through the section headers:
// they must be the table the dynamic linker reads, whole.
func (m *elfMemory) matchSections(d *dynamicTable) error {
	for _, e := range sectionOfTag {
		addr, ok := d.tags[e.tag]
		s := m.f.section(e.section)
		if !ok || s == nil {
			continue
		}
		if err := m.sectionAt(s, addr); err != nil {
			return err
		}
		if e.size != 0 && d.tags[e.size] != s.size {
			return errELF("%s is %d, but section %s has %d bytes", e.size, d.tags[e.size], e.section, s.size)
		}
	}
	dynsym := m.f.sectionOfType(elf.SHT_DYNSYM)
	if dynsym == nil {
		return nil
	}
	if err := m.sectionAt(dynsym, d.tags[elf.DT_SYMTAB]); err != nil {
		return err
	}
	if dynsym.size != d.nsyms*m.symEntSize() {
		return errELF("section %s has %d bytes, but the hash table counts %d symbols", dynsym.name, dynsym.size, d.nsyms)
	}
	if int(dynsym.link) >= len(m.f.sects) {
		return errELF("section %s: string table index %d out of range", dynsym.name, dynsym.link)
	}
	strs := &m.f.sects[dynsym.link]
	if err := m.sectionAt(strs, d.tags[elf.DT_STRTAB]); err != nil {
		return err
	}
	if strs.size != d.tags[elf.DT_STRSZ] {
		return errELF("section %s has %d bytes, but DT_STRSZ is %d", strs.name, strs.size, d.tags[elf.DT_STRSZ])
	}
	return nil
}

// sectionAt checks that section s is at address addr, and that the file
// bytes it names are those the segment maps there.
func (m *elfMemory) sectionAt(s *elfSect, addr uint64) error {
	if s.addr != addr {
		return errELF("section %s is at %#x, but the dynamic section says %#x", s.name, s.addr, addr)
	}
	if s.typ == elf.SHT_NOBITS {
		return nil
	}
	if p := m.segment(addr, s.size); p == nil || p.off+(addr-p.vaddr) != s.off {
		return errELF("section %s (at file offset %#x) is not where its segment maps %#x", s.name, s.off, addr)
	}
	return nil
}

// mapped returns the PT_LOAD segment whose memory holds addr, or nil.
func (m *elfMemory) mapped(addr uint64) *elfProg {
	if m.last < len(m.loads) {
		if p := &m.loads[m.last]; addr >= p.vaddr && addr-p.vaddr < p.memsz {
			return p
		}
	}
	for i := range m.loads {
		p := &m.loads[i]
		if addr >= p.vaddr && addr-p.vaddr < p.memsz {
			m.last = i
			return p
		}
	}
	return nil
}
