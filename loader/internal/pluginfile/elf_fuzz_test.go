package pluginfile

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/plugink/plugink/internal/fsx"
	"github.com/plugink/plugink/internal/pluginbuild"
	"github.com/plugink/plugink/runtime"
)

// FuzzPluginHeaders patches bytes of a real plugin where its headers and
// the tables the dynamic linker reads are (the start of the file, and the
// section headers at its end), and reads the result as the loader does
// before opening a file: format and build information, structure, package
// fingerprints, symbols. Whatever the bytes, it must return, without a
// panic and without allocating more than the bounds allow.
func FuzzPluginHeaders(f *testing.F) {
	if testing.Short() {
		f.Skip("builds a plugin: skipped with -short")
	}
	out := filepath.Join(f.TempDir(), "fuzz.so")
	c := &runtime.Config{Name: "fuzz", Type: "client", Path: "github.com/plugink/plugink/loader/testdata/plugins/echo", NewFunc: "NewClient"}
	if _, _, err := (pluginbuild.Options{}).Build(context.Background(), out, c, nil); err != nil {
		f.Fatal(err)
	}
	base, err := fsx.ReadFile(out, 1<<30)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []struct {
		off   uint32
		patch []byte
	}{{64, []byte{0xff}}, {65, []byte{1}}, {120, []byte{7}}, {0, nil}, {40, []byte{0, 0, 0, 0, 0, 0xff}}, {1 << 20, []byte{0x08}}} {
		f.Add(seed.off, seed.patch)
	}
	shoff := int(le.Uint64(base[40:]))
	f.Fuzz(func(t *testing.T, off uint32, patch []byte) {
		if len(patch) > 64 {
			patch = patch[:64]
		}
		at := int(off % (1 << 20)) // the first MiB: headers, symbol, string, hash, version and relocation tables
		if off >= 1<<20 {
			at = shoff + int(off)%(len(base)-shoff) // the section headers
		}
		data := bytes.Clone(base)
		copy(data[min(at, len(data)):], patch)
		r := bytes.NewReader(data)
		pf, err := Read(r, int64(len(data)))
		if err != nil || pf.elf == nil {
			return
		}
		_ = pf.CheckLoadable()
		_, _ = pf.Fingerprints()
		_, _ = pf.Symbols(Query{Max: 1 << 16, Size: 1 << 10})
	})
}

// le decodes the fuzz base's little-endian header.
var le = endian{}
