package loader

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
