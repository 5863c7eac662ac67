package pluginfile

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"testing"
	"time"
)

// TestGNUHashCraftedChains: a hash table whose million buckets all start
// the same million-symbol chain made a walk per bucket quadratic (10^12
// steps, a hang); the check walks the chains once.
func TestGNUHashCraftedChains(t *testing.T) {
	const nbuckets, nsyms = 1 << 20, 1 << 20
	b := make([]byte, 16+8+4*nbuckets+4*nsyms)
	le := binary.LittleEndian
	le.PutUint32(b, nbuckets)
	le.PutUint32(b[4:], 1) // symoffset
	le.PutUint32(b[8:], 1) // bloom words
	buckets := b[24:]
	for i := range nbuckets {
		le.PutUint32(buckets[4*i:], 1)
	}
	chain := b[24+4*nbuckets:]
	le.PutUint32(chain[4*(nsyms-2):], 1) // the one chain ends at its last entry
	f := &elfFile{r: bytes.NewReader(b), size: int64(len(b)), class: elf.ELFCLASS64}
	m := &elfMemory{f: f, loads: []elfProg{{typ: elf.PT_LOAD, filesz: uint64(len(b)), memsz: uint64(len(b))}}}
	done := make(chan uint64, 1)
	go func() {
		n, err := m.gnuHashSymbols(0)
		if err != nil {
			t.Error(err)
		}
		done <- n
	}()
	select {
	case n := <-done:
		if n != nsyms {
			t.Errorf("%d symbols, want %d", n, nsyms)
		}
	case <-time.After(time.Minute):
		t.Fatal("the hash table check does not end")
	}
}

// TestSymbolScanIsBounded: a symbol table of many entries that all name
// one large region made each scan read a megabyte per entry, without a
// limit (gigabytes from a few kilobytes of table); a scan now reads what
// its caller expects, and no more.
func TestSymbolScanIsBounded(t *testing.T) {
	const n = 100000
	name := "go:link.pkghashbytes.x\x00"
	data := make([]byte, 1<<20)
	syms := make([]byte, 24*(n+1))
	le := binary.LittleEndian
	for i := 1; i <= n; i++ {
		e := syms[24*i:]
		le.PutUint32(e, 1) // the name at offset 1 of the string table
		le.PutUint16(e[6:], 3)
		le.PutUint64(e[16:], 1<<20) // every entry: the whole megabyte
	}
	file := append(append(append([]byte{}, syms...), "\x00"+name...), data...)
	strOff := uint64(len(syms))
	f := &elfFile{r: bytes.NewReader(file), size: int64(len(file)), class: elf.ELFCLASS64, sects: []elfSect{
		{}, {name: ".symtab", typ: elf.SHT_SYMTAB, size: uint64(len(syms)), entsz: 24, link: 2},
		{name: ".strtab", typ: elf.SHT_STRTAB, off: strOff, size: uint64(len(name) + 1)},
		{name: ".data", typ: elf.SHT_PROGBITS, off: strOff + uint64(len(name)+1), size: 1 << 20},
	}}
	_, err := f.symbols(&f.sects[1], Query{Prefix: fingerprintPrefix, Max: MaxPackages, Size: 64})
	if err == nil {
		t.Fatal("a megabyte where 8 bytes are expected: want an error")
	}
	for i := 1; i <= n; i++ {
		le.PutUint64(syms[24*i+16:], 8)
	}
	file = append(append(append([]byte{}, syms...), "\x00"+name...), data...)
	f.r = bytes.NewReader(file)
	if _, err := f.symbols(&f.sects[1], Query{Prefix: fingerprintPrefix, Max: MaxPackages, Size: 64}); err == nil {
		t.Fatalf("%d fingerprints, over %d: want an error", n, MaxPackages)
	}
}
