package pluginfile

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"slices"
)

// dynTags are the dynamic section tags Go's linker writes into a plugin; a
// damaged tag is refused rather than guessed at.
var dynTags = []elf.DynTag{elf.DT_NEEDED, elf.DT_INIT, elf.DT_FINI, elf.DT_INIT_ARRAY, elf.DT_INIT_ARRAYSZ,
	elf.DT_FINI_ARRAY, elf.DT_FINI_ARRAYSZ, elf.DT_GNU_HASH, elf.DT_HASH, elf.DT_STRTAB, elf.DT_SYMTAB, elf.DT_STRSZ,
	elf.DT_SYMENT, elf.DT_PLTGOT, elf.DT_PLTRELSZ, elf.DT_PLTREL, elf.DT_JMPREL, elf.DT_RELA, elf.DT_RELASZ,
	elf.DT_RELAENT, elf.DT_REL, elf.DT_RELSZ, elf.DT_RELENT, elf.DT_FLAGS, elf.DT_FLAGS_1, elf.DT_VERNEED,
	elf.DT_VERNEEDNUM, elf.DT_VERSYM, elf.DT_RELACOUNT, elf.DT_RELCOUNT, elf.DT_SONAME, elf.DT_RPATH,
	elf.DT_RUNPATH, elf.DT_BIND_NOW, elf.DT_DEBUG, elf.DT_TEXTREL, dtRELRSZ, dtRELR, dtRELRENT}

// The tags of packed relative relocations, which the external linker
// writes when asked to (-Wl,-z,pack-relative-relocs) and debug/elf does
// not name.
const (
	dtRELRSZ  elf.DynTag = 35
	dtRELR    elf.DynTag = 36
	dtRELRENT elf.DynTag = 37
)

// checkTags checks that every tag of the dynamic section is one Go's
// linker writes, none but DT_NEEDED twice, and that a 64-bit plugin has
// the relocations and the init array every Go plugin has.
func (m *elfMemory) checkTags(d *dynamicTable) error {
	seen := map[elf.DynTag]bool{}
	for _, tag := range d.order {
		switch {
		case !slices.Contains(dynTags, tag):
			return errELF("dynamic section tag %#x, which Go's linker does not write", uint64(tag))
		case seen[tag] && tag != elf.DT_NEEDED:
			return errELF("%s twice in the dynamic section", tag)
		}
		seen[tag] = true
	}
	if m.f.class != elf.ELFCLASS64 {
		return nil
	}
	for _, tag := range []elf.DynTag{elf.DT_RELA, elf.DT_RELASZ, elf.DT_RELAENT, elf.DT_INIT_ARRAY, elf.DT_INIT_ARRAYSZ} {
		if !seen[tag] {
			return errELF("no %s in the dynamic section", tag)
		}
	}
	if v, ok := d.tags[elf.DT_PLTREL]; ok && elf.DynTag(v) != elf.DT_RELA {
		return errELF("DT_PLTREL is %d, not DT_RELA", v)
	}
	return nil
}

// stbGNUUnique is the binding STB_GNU_UNIQUE, which debug/elf does not name.
const stbGNUUnique = 10

// symEntSize is the size of a symbol table entry.
func (m *elfMemory) symEntSize() uint64 {
	if m.f.class == elf.ELFCLASS32 {
		return 16
	}
	return 24
}

// checkSymbols checks every dynamic symbol: its name is in the string
// table, its binding and type are ELF's, and a defined symbol lies in the
// memory the file maps (in the TLS segment, for a TLS symbol).
func (m *elfMemory) checkSymbols(d *dynamicTable) error {
	syms, err := m.read("dynamic symbol table", d.tags[elf.DT_SYMTAB], d.nsyms*m.symEntSize())
	if err != nil {
		return err
	}
	d.syms = syms
	var tls *elfProg
	for i := range m.f.progs {
		if m.f.progs[i].typ == elf.PT_TLS {
			tls = &m.f.progs[i]
		}
	}
	strsz, size := d.tags[elf.DT_STRSZ], m.symEntSize()
	for i := uint64(1); i < d.nsyms; i++ {
		var s elfSym
		if e := syms[i*size : (i+1)*size]; size == 24 && !m.f.order.big { // the common case, decoded inline
			s = elfSym{name: uint64(binary.LittleEndian.Uint32(e)), info: e[4], shndx: binary.LittleEndian.Uint16(e[6:]),
				value: binary.LittleEndian.Uint64(e[8:]), size: binary.LittleEndian.Uint64(e[16:])}
		} else {
			s = m.symbol(syms, i)
		}
		switch {
		case s.name >= strsz:
			return errELF("dynamic symbol %d: name at %d is outside the string table", i, s.name)
		case elf.ST_BIND(s.info) > elf.STB_WEAK && elf.ST_BIND(s.info) != stbGNUUnique:
			return errELF("dynamic symbol %d: binding %d", i, elf.ST_BIND(s.info))
		case elf.ST_TYPE(s.info) > elf.STT_TLS && elf.ST_TYPE(s.info) != elf.STT_GNU_IFUNC:
			return errELF("dynamic symbol %d: type %d", i, elf.ST_TYPE(s.info))
		case s.shndx == uint16(elf.SHN_UNDEF) || s.shndx >= uint16(elf.SHN_LORESERVE):
		case elf.ST_TYPE(s.info) == elf.STT_TLS:
			if tls == nil || s.value > tls.memsz || s.size > tls.memsz-s.value {
				return errELF("dynamic symbol %d: TLS offset %#x (%d bytes) outside the TLS segment", i, s.value, s.size)
			}
		case !m.inMemory(s.value, s.size):
			return errELF("dynamic symbol %d: %#x (%d bytes) is outside the mapped segments", i, s.value, s.size)
		}
	}
	return nil
}

// elfSym is a symbol table entry.
type elfSym struct {
	name, value, size uint64
	info              byte
	shndx             uint16
}

// symbol returns entry i of the symbol table syms.
func (m *elfMemory) symbol(syms []byte, i uint64) elfSym {
	o := m.f.order
	if m.f.class == elf.ELFCLASS32 {
		e := syms[16*i:]
		return elfSym{name: uint64(o.Uint32(e)), value: uint64(o.Uint32(e[4:])), size: uint64(o.Uint32(e[8:])), info: e[12], shndx: o.Uint16(e[14:])}
	}
	e := syms[24*i:]
	return elfSym{name: uint64(o.Uint32(e)), info: e[4], shndx: o.Uint16(e[6:]), value: o.Uint64(e[8:]), size: o.Uint64(e[16:])}
}

// inMemory reports whether the n bytes at addr lie in one PT_LOAD
// segment's memory.
func (m *elfMemory) inMemory(addr, n uint64) bool {
	p := m.mapped(addr)
	return p != nil && n <= p.memsz-(addr-p.vaddr)
}

// checkVersions checks the version needs (DT_VERNEED) and the symbol
// version table: every need names a library of DT_NEEDED and a version
// string, and every symbol's version index is one the needs define (the
// dynamic linker indexes an array with it).
func (m *elfMemory) checkVersions(d *dynamicTable) error {
	maxIndex, err := m.versionIndexes(d)
	if err != nil {
		return err
	}
	addr, ok := d.tags[elf.DT_VERSYM]
	if !ok {
		return nil
	}
	versym, err := m.read("symbol version table", addr, 2*d.nsyms)
	if err != nil {
		return err
	}
	for i := uint64(0); i < d.nsyms; i++ {
		if v := uint64(m.f.order.Uint16(versym[2*i:]) & 0x7fff); v > 1 && v > maxIndex {
			return errELF("dynamic symbol %d: version index %d, but the version needs define up to %d", i, v, maxIndex)
		}
	}
	return nil
}

// versionIndexes walks the version needs as the dynamic linker does
// (following vn_next and vna_next until they are 0, not counting) and
// returns the largest version index they define (1 if none).
func (m *elfMemory) versionIndexes(d *dynamicTable) (uint64, error) {
	addr, ok := d.tags[elf.DT_VERNEED]
	if !ok {
		return 1, nil
	}
	strs, err := m.read("dynamic string table", d.tags[elf.DT_STRTAB], d.tags[elf.DT_STRSZ])
	if err != nil {
		return 0, err
	}
	o, maxIndex, n := m.f.order, uint64(1), d.tags[elf.DT_VERNEEDNUM]
	if n == 0 || n > 1024 {
		return 0, errELF("%d version needs", n)
	}
	for i := uint64(1); ; i++ {
		vn, err := m.read("version need", addr, 16)
		if err != nil {
			return 0, err
		}
		cnt, file, aux, next := uint64(o.Uint16(vn[2:])), uint64(o.Uint32(vn[4:])), uint64(o.Uint32(vn[8:])), uint64(o.Uint32(vn[12:]))
		if o.Uint16(vn) != 1 || !m.isNeeded(d, strs, file) {
			return 0, errELF("version need at %#x: not a version of a library in DT_NEEDED", addr)
		}
		top, err := m.versionNeedEntries(addr+aux, cnt, uint64(len(strs)))
		if err != nil {
			return 0, err
		}
		maxIndex = max(maxIndex, top)
		switch {
		case next == 0 && i == n:
			return maxIndex, nil
		case next == 0 || i == n:
			return 0, errELF("the version needs chain has %d entries or more, DT_VERNEEDNUM says %d", i, n)
		}
		addr += next
	}
}

// versionNeedEntries walks the cnt entries of a version need at addr and
// returns the largest version index they define.
func (m *elfMemory) versionNeedEntries(addr, cnt, strsz uint64) (uint64, error) {
	if cnt == 0 || cnt > 1024 {
		return 0, errELF("version need with %d entries", cnt)
	}
	o, top := m.f.order, uint64(0)
	for i := uint64(1); ; i++ {
		vna, err := m.read("version need entry", addr, 16)
		if err != nil {
			return 0, err
		}
		if uint64(o.Uint32(vna[8:])) >= strsz {
			return 0, errELF("version need entry at %#x names a string out of range", addr)
		}
		top = max(top, uint64(o.Uint16(vna[6:])&0x7fff))
		next := uint64(o.Uint32(vna[12:]))
		switch {
		case next == 0 && i == cnt:
			return top, nil
		case next == 0 || i == cnt:
			return 0, errELF("version need entries at %#x: the chain does not end after %d", addr, cnt)
		}
		addr += next
	}
}

// isNeeded reports whether the string at off of strs is the name of a
// library in DT_NEEDED.
func (m *elfMemory) isNeeded(d *dynamicTable, strs []byte, off uint64) bool {
	name := cstring(strs, off)
	for _, n := range d.needed {
		if name != nil && bytes.Equal(cstring(strs, n), name) {
			return true
		}
	}
	return false
}

// cstring returns the NUL-terminated string at off of strs, or nil.
func cstring(strs []byte, off uint64) []byte {
	if off >= uint64(len(strs)) {
		return nil
	}
	s := strs[off:]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return nil
}
