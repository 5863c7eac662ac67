package pluginfile

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"encoding/binary"
	"os"
	goruntime "runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParseInlineBuildInfo checks the fast reader of build information
// against debug/buildinfo, on this test binary.
func TestParseInlineBuildInfo(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	want, err := buildinfo.ReadFile(exe)
	require.NoError(t, err)
	ef, err := elf.Open(exe)
	require.NoError(t, err)
	defer ef.Close()
	sec := ef.Section(".go.buildinfo")
	require.NotNil(t, sec)
	data, err := sec.Data()
	require.NoError(t, err)

	got := parseInlineBuildInfo(data)
	require.NotNil(t, got)
	assert.Equal(t, want, got)

	// Damaged contents are refused (the general path then explains), never
	// a panic.
	for n := range len(data) {
		if bi := parseInlineBuildInfo(data[:n]); bi != nil {
			assert.Equal(t, want.GoVersion, bi.GoVersion)
		}
	}
	flipped := append([]byte(nil), data...)
	flipped[32] = 0xff // the version's length
	assert.Nil(t, parseInlineBuildInfo(flipped))
}

// TestReadELFDamagedSectionHeaders checks that a header claiming 65535
// section headers of 65535 bytes each (4 GB) is refused before anything is
// allocated: with a memory limit, that allocation would kill the process.
func TestReadELFDamagedSectionHeaders(t *testing.T) {
	for _, class := range []elf.Class{elf.ELFCLASS64, elf.ELFCLASS32} {
		t.Run(class.String(), func(t *testing.T) {
			h := make([]byte, 4096)
			copy(h, elf.ELFMAG)
			h[elf.EI_CLASS], h[elf.EI_DATA], h[elf.EI_VERSION] = byte(class), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
			le := binary.LittleEndian
			le.PutUint16(h[16:], uint16(elf.ET_DYN))
			le.PutUint16(h[18:], uint16(elf.EM_X86_64))
			shoff, shentsize := 40, 58 // ELF64 offsets
			if class == elf.ELFCLASS32 {
				shoff, shentsize = 32, 46
			}
			le.PutUint32(h[shoff:], 64)
			le.PutUint16(h[shentsize:], 0xffff)   // e_shentsize
			le.PutUint16(h[shentsize+2:], 0xffff) // e_shnum
			le.PutUint16(h[shentsize+4:], 1)      // e_shstrndx

			var before, after goruntime.MemStats
			goruntime.ReadMemStats(&before)
			_, err := readELF(bytes.NewReader(h), int64(len(h)))
			goruntime.ReadMemStats(&after)
			assert.ErrorIs(t, err, ErrNotPlugin)
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<20), "bytes allocated")
		})
	}
}
