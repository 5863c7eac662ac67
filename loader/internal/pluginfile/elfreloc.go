package pluginfile

import (
	"debug/elf"
)

// checkHash checks the symbol hash table the dynamic linker walks to look
// symbols up: every chain ends, and every symbol index it reaches has an
// entry in the symbol table and the version table, in a loaded segment.
// It records the number of dynamic symbols in d.
func (m *elfMemory) checkHash(d *dynamicTable) error {
	var nsyms uint64
	var err error
	if addr, ok := d.tags[elf.DT_GNU_HASH]; ok {
		nsyms, err = m.gnuHashSymbols(addr)
	} else {
		nsyms, err = m.sysvHashSymbols(d.tags[elf.DT_HASH])
	}
	if err != nil {
		return err
	}
	symEnt := uint64(24)
	if m.f.class == elf.ELFCLASS32 {
		symEnt = 16
	}
	if m.segment(d.tags[elf.DT_SYMTAB], nsyms*symEnt) == nil {
		return errELF("the dynamic symbol table (%d symbols at %#x) is not in a loaded segment", nsyms, d.tags[elf.DT_SYMTAB])
	}
	if addr, ok := d.tags[elf.DT_VERSYM]; ok && m.segment(addr, 2*nsyms) == nil {
		return errELF("the symbol version table (%d entries at %#x) is not in a loaded segment", nsyms, addr)
	}
	d.nsyms = nsyms
	return nil
}

// maxSymbols bounds the number of dynamic symbols.
const maxSymbols = 1 << 24

// gnuHashSymbols walks the GNU hash table at addr and returns the number
// of symbols it reaches.
func (m *elfMemory) gnuHashSymbols(addr uint64) (uint64, error) {
	h, err := m.read("GNU hash table header", addr, 16)
	if err != nil {
		return 0, err
	}
	o := m.f.order
	nbuckets, symoffset, bloomSize := uint64(o.Uint32(h)), uint64(o.Uint32(h[4:])), uint64(o.Uint32(h[8:]))
	word := uint64(8)
	if m.f.class == elf.ELFCLASS32 {
		word = 4
	}
	switch {
	case nbuckets == 0 || nbuckets > maxSymbols || symoffset > maxSymbols:
		return 0, errELF("GNU hash table: %d buckets, symbol offset %d", nbuckets, symoffset)
	case bloomSize == 0 || bloomSize&(bloomSize-1) != 0 || bloomSize > maxSymbols:
		return 0, errELF("GNU hash table: bloom filter of %d words, not a power of two", bloomSize)
	}
	bucketsAt := addr + 16 + bloomSize*word
	buckets, err := m.read("GNU hash buckets", bucketsAt, 4*nbuckets)
	if err != nil {
		return 0, err
	}
	chain, err := m.rest("GNU hash chains", bucketsAt+4*nbuckets, 4*maxSymbols)
	if err != nil {
		return 0, err
	}
	// Every chain ends at the first entry from its start with the low bit
	// set, so every chain ends by the end of the one that starts last:
	// walking that one alone is linear however the buckets point.
	last := uint64(0)
	for b := range nbuckets {
		i := uint64(o.Uint32(buckets[4*b:]))
		if i != 0 && i < symoffset {
			return 0, errELF("GNU hash bucket %d starts at symbol %d, below the table's first (%d)", b, i, symoffset)
		}
		last = max(last, i)
	}
	if last == 0 {
		return symoffset, nil
	}
	for i := last; ; i++ { // to the chain's end, marked by the low bit
		at := 4 * (i - symoffset)
		if at+4 > uint64(len(chain)) {
			return 0, errELF("GNU hash chain from symbol %d runs out of its segment", last)
		}
		if o.Uint32(chain[at:])&1 != 0 {
			return i + 1, nil
		}
	}
}

// rest returns the bytes from addr to the end of the file-backed part of
// its PT_LOAD segment, at most limit of them.
func (m *elfMemory) rest(what string, addr, limit uint64) ([]byte, error) {
	p := m.segment(addr, 0)
	if p == nil {
		return nil, errELF("%s (%#x) is not in a loaded segment", what, addr)
	}
	return m.read(what, addr, min(limit, p.filesz-(addr-p.vaddr)))
}

// sysvHashSymbols checks the System V hash table at addr and returns its
// number of symbols.
func (m *elfMemory) sysvHashSymbols(addr uint64) (uint64, error) {
	h, err := m.read("hash table header", addr, 8)
	if err != nil {
		return 0, err
	}
	o := m.f.order
	nbucket, nchain := uint64(o.Uint32(h)), uint64(o.Uint32(h[4:]))
	if nbucket == 0 || nbucket > maxSymbols || nchain > maxSymbols {
		return 0, errELF("hash table: %d buckets, %d chains", nbucket, nchain)
	}
	t, err := m.read("hash table", addr+8, 4*(nbucket+nchain))
	if err != nil {
		return 0, err
	}
	entry := func(i uint64) uint64 { return uint64(o.Uint32(t[4*i:])) }
	// Every chain must end (at symbol 0): the dynamic linker follows one
	// until it does, so a cycle would hang it. Each symbol is walked once.
	const onPath, done = 1, 2
	state := make([]byte, nchain)
	for b := range nbucket {
		var path []uint64
		for i := entry(b); i != 0; i = entry(nbucket + i) {
			if i >= nchain {
				return 0, errELF("hash table: symbol %d out of range (%d symbols)", i, nchain)
			}
			if state[i] == done {
				break
			}
			if state[i] == onPath {
				return 0, errELF("hash table: the chain of bucket %d loops at symbol %d", b, i)
			}
			state[i] = onPath
			path = append(path, i)
		}
		for _, i := range path {
			state[i] = done
		}
	}
	return nchain, nil
}

// relocTypes are the relocations Go's linker writes into an amd64 plugin;
// the dynamic linker would apply any other as told, or stop the process.
var relocTypes = map[elf.Machine][]uint32{
	elf.EM_X86_64: {uint32(elf.R_X86_64_64), uint32(elf.R_X86_64_GLOB_DAT), uint32(elf.R_X86_64_JMP_SLOT),
		uint32(elf.R_X86_64_RELATIVE), uint32(elf.R_X86_64_TPOFF64), uint32(elf.R_X86_64_DTPMOD64), uint32(elf.R_X86_64_DTPOFF64)},
}

// elfReloc is a relocation.
type elfReloc struct {
	typ         uint32
	sym, addend uint64
}

// checkRelocs checks every relocation the dynamic linker will apply: it
// writes into a writable segment, names a symbol of the table, and has a
// type Go's linker writes (on the architectures listed in relocTypes); the
// first DT_RELACOUNT are relative ones, as the count tells the dynamic
// linker. It keeps those of the init and fini arrays for checkInit.
func (m *elfMemory) checkRelocs(d *dynamicTable) error {
	if _, ok := d.tags[elf.DT_TEXTREL]; ok || d.tags[elf.DT_FLAGS]&uint64(elf.DF_TEXTREL) != 0 {
		return errELF("text relocations (DT_TEXTREL), which Go's linker does not write")
	}
	if m.f.class != elf.ELFCLASS64 {
		return nil // Go's 32-bit plugins are rare; the trial open covers them
	}
	if _, ok := d.tags[elf.DT_REL]; ok {
		return errELF("REL relocations, where Go's linker writes RELA")
	}
	d.relocs = map[uint64]elfReloc{}
	for _, t := range []struct{ addr, size elf.DynTag }{{elf.DT_RELA, elf.DT_RELASZ}, {elf.DT_JMPREL, elf.DT_PLTRELSZ}} {
		addr, ok := d.tags[t.addr]
		if !ok {
			continue
		}
		size := d.tags[t.size]
		if size%24 != 0 {
			return errELF("%s is %d bytes, not a whole number of relocations", t.size, size)
		}
		b, err := m.read("relocations", addr, size)
		if err != nil {
			return err
		}
		relative := uint64(0)
		if t.addr == elf.DT_RELA {
			relative = d.tags[elf.DT_RELACOUNT]
		}
		if err := m.checkRelocTable(d, b, relative); err != nil {
			return err
		}
	}
	return m.checkRELR(d)
}

// checkRELR checks the packed relative relocations (DT_RELR), if any:
// every address they relocate lies in a writable segment. Their addends
// are the values in place, which is what checkInit reads.
//
// The table is a list of 8-byte words: an even word is an address to
// relocate, and the next word's bitmap starts after it; an odd word is a
// bitmap of the 63 words that follow the bitmap's start (bit 1 is the
// first), and moves the start 63 words on.
func (m *elfMemory) checkRELR(d *dynamicTable) error {
	addr, ok := d.tags[dtRELR]
	_, hasSize := d.tags[dtRELRSZ]
	if !ok && !hasSize {
		return nil
	}
	size := d.tags[dtRELRSZ]
	switch {
	case !ok || !hasSize:
		return errELF("DT_RELR and DT_RELRSZ come together, and only one is in the dynamic section")
	case d.tags[dtRELRENT] != 8:
		return errELF("DT_RELRENT is %d, want 8", d.tags[dtRELRENT])
	case size%8 != 0:
		return errELF("DT_RELRSZ is %d bytes, not a whole number of entries", size)
	}
	b, err := m.read("packed relocations", addr, size)
	if err != nil {
		return err
	}
	var where uint64
	started := false
	for i := 0; i+8 <= len(b); i += 8 {
		w := m.f.order.Uint64(b[i:])
		if w&1 == 0 {
			if !m.writable(w, 8) {
				return errELF("packed relocation %d writes at %#x, outside the writable segments", i/8, w)
			}
			where, started = w+8, true
			continue
		}
		if !started {
			return errELF("packed relocation %d is a bitmap with no address before it", i/8)
		}
		for bit := uint64(1); bit < 64; bit++ {
			if at := where + (bit-1)*8; w>>bit&1 != 0 && !m.writable(at, 8) {
				return errELF("packed relocation %d writes at %#x, outside the writable segments", i/8, at)
			}
		}
		where += 63 * 8
	}
	return nil
}

// checkRelocTable checks the RELA entries b, the first relative of which
// must be relative relocations.
func (m *elfMemory) checkRelocTable(d *dynamicTable, b []byte, relative uint64) error {
	allowed, o := relocTypes[m.f.machine], m.f.order
	if relative > uint64(len(b))/24 {
		return errELF("DT_RELACOUNT is %d, but there are %d relocations", relative, len(b)/24)
	}
	arrays := [][2]uint64{{d.tags[elf.DT_INIT_ARRAY], d.tags[elf.DT_INIT_ARRAYSZ]}, {d.tags[elf.DT_FINI_ARRAY], d.tags[elf.DT_FINI_ARRAYSZ]}}
	for i := uint64(0); i+24 <= uint64(len(b)); i += 24 {
		e := b[i : i+24]
		off, info, addend := o.Uint64(e), o.Uint64(e[8:]), o.Uint64(e[16:])
		r := elfReloc{typ: uint32(info), sym: info >> 32, addend: addend}
		switch {
		case allowed != nil && !allowedType(allowed, r.typ):
			return errELF("relocation %d at %#x has type %d, which Go's linker does not write", i/24, off, r.typ)
		case i/24 < relative && m.f.machine == elf.EM_X86_64 && r.typ != uint32(elf.R_X86_64_RELATIVE):
			return errELF("relocation %d is not relative, but DT_RELACOUNT counts it as one", i/24)
		case r.sym >= d.nsyms:
			return errELF("relocation %d at %#x names symbol %d of %d", i/24, off, r.sym, d.nsyms)
		case !m.writable(off, 8):
			return errELF("relocation %d writes at %#x, outside the writable segments", i/24, off)
		}
		for _, a := range arrays {
			if off >= a[0] && off-a[0] < a[1] {
				d.relocs[off] = r
			}
		}
	}
	return nil
}

// allowedType reports whether typ is one of allowed (a handful).
func allowedType(allowed []uint32, typ uint32) bool {
	for _, a := range allowed {
		if a == typ {
			return true
		}
	}
	return false
}

// checkInit checks that what the dynamic linker calls when it opens and
// closes the file (DT_INIT, DT_FINI and the entries of the init and fini
// arrays, as relocated) is code: it lies in an executable segment.
func (m *elfMemory) checkInit(d *dynamicTable) error {
	for _, tag := range []elf.DynTag{elf.DT_INIT, elf.DT_FINI} {
		if addr, ok := d.tags[tag]; ok && !m.executable(addr) {
			return errELF("%s (%#x) is not in an executable segment", tag, addr)
		}
	}
	if m.f.class != elf.ELFCLASS64 {
		return nil
	}
	for _, a := range [][2]elf.DynTag{{elf.DT_INIT_ARRAY, elf.DT_INIT_ARRAYSZ}, {elf.DT_FINI_ARRAY, elf.DT_FINI_ARRAYSZ}} {
		start, size := d.tags[a[0]], d.tags[a[1]]
		if size%8 != 0 || !m.writable(start, size) {
			return errELF("%s (%d bytes at %#x) is not in a writable segment", a[0], size, start)
		}
		slots, err := m.read(a[0].String(), start, size)
		if err != nil {
			return err
		}
		for i := uint64(0); i < size; i += 8 {
			if target := m.relocated(d, start+i, m.f.order.Uint64(slots[i:])); !m.executable(target) {
				return errELF("%s entry %d points at %#x, not into an executable segment", a[0], i/8, target)
			}
		}
	}
	return nil
}

// relocated returns the value of the 8 bytes at addr once relocated: raw
// is what the file holds there.
func (m *elfMemory) relocated(d *dynamicTable, addr, raw uint64) uint64 {
	r, ok := d.relocs[addr]
	switch {
	case !ok:
		return raw
	case r.sym == 0:
		return r.addend
	}
	return m.symbol(d.syms, r.sym).value + r.addend
}

// executable reports whether addr lies in an executable PT_LOAD segment.
func (m *elfMemory) executable(addr uint64) bool {
	p := m.mapped(addr)
	return p != nil && p.flags&elf.PF_X != 0
}

// writable reports whether the n bytes at addr lie in a writable PT_LOAD
// segment's memory.
func (m *elfMemory) writable(addr, n uint64) bool {
	p := m.mapped(addr)
	return p != nil && p.flags&elf.PF_W != 0 && n <= p.memsz-(addr-p.vaddr)
}
