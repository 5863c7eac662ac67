//go:build unix

package loader_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/internal/fsx"
	sumfile "github.com/plugink/plugink/internal/sums"
	"github.com/plugink/plugink/internal/testmod"
	"github.com/plugink/plugink/loader"
	"github.com/plugink/plugink/runtime"
)

// TestCorruptProgramHeaderIsRefused: a flipped byte in the program headers
// (64, 65: the first segment's type; 120: the second's) made the dynamic
// linker crash the host inside plugin.Open. Each is refused before any
// open, with an error naming the file; the children of the mutation test
// would be killed otherwise.
func TestCorruptProgramHeaderIsRefused(t *testing.T) {
	base := fixturePath(t, "echo")
	muts := []mutation{{Off: 64, Val: 0xff}, {Off: 65, Val: 0x01}, {Off: 120, Val: 0x07}, {Off: 120, Val: 0}}
	results, crashes := runMutations(t, base, muts)
	require.Empty(t, crashes)
	require.Len(t, results, len(muts))
	for _, r := range results {
		assert.Equal(t, "refused: structure", outcome(r), "%+v: %s", muts[r.I], r.Load)
		assert.Contains(t, r.Preflight, "corrupt ELF file", "Preflight (and so inspect -host) sees it too")
		assert.False(t, r.Unnamed)
	}
}

// TestCompressedSectionIsAnError: debug/elf gives a section marked
// SHF_COMPRESSED no reader, and the loader used to read the symbol
// go:link.thispluginpath through it: a nil dereference. Now it is an
// error that names the file.
func TestCompressedSectionIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "compressed.so")
	data, err := os.ReadFile(fixturePath(t, "echo"))
	require.NoError(t, err)
	for _, name := range []string{".noptrdata", ".data", ".rodata", ".symtab", ".dynsym", ".strtab"} {
		flags := sectionFlagsOffset(t, data, name)
		data[flags+1] |= 0x08 // SHF_COMPRESSED is 0x800
	}
	require.NoError(t, os.WriteFile(path, data, 0o644))
	_, err = loader.Inspect(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "inspect "+path+": ")
	assert.Contains(t, err.Error(), "compressed")
	_, err = loader.Load(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
}

// sectionFlagsOffset returns the file offset of the sh_flags field of the
// section called name, in an ELF64 little-endian file.
func sectionFlagsOffset(t *testing.T, data []byte, name string) int {
	shoff, shnum, shstrndx := int(le64(data[40:])), int(data[60])|int(data[61])<<8, int(data[62])|int(data[63])<<8
	strOff := int(le64(data[shoff+shstrndx*64+24:]))
	for i := range shnum {
		h := data[shoff+i*64:]
		n := strOff + int(uint32(h[0])|uint32(h[1])<<8|uint32(h[2])<<16|uint32(h[3])<<24)
		if end := strings.IndexByte(string(data[n:n+64]), 0); string(data[n:n+end]) == name {
			return shoff + i*64 + 8
		}
	}
	t.Fatalf("no section %s", name)
	return 0
}

// TestFileTruncatedWhileChecked: the checks read a plugin through a
// mapping of the file; a file cut short meanwhile (here: right after it is
// mapped) makes those reads fault. Load and Preflight return an error
// naming the file, and the process lives on.
func TestFileTruncatedWhileChecked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "client_echo.so")
	copyFile(t, fixturePath(t, "echo"), path)
	undo := loader.SetMapped(func(mapped string) {
		if mapped == path {
			require.NoError(t, os.Truncate(path, 4096))
		}
	})
	for name, run := range map[string]func() error{
		"Preflight": func() error { return loader.Preflight(path, nil) },
		"Load":      func() error { _, err := loader.NewPlugin(loader.WithoutTrial()).Load(path); return err },
	} {
		t.Run(name, func(t *testing.T) {
			copyFile(t, fixturePath(t, "echo"), path)
			err := run()
			require.ErrorIs(t, err, loader.ErrNotPlugin)
			assert.Contains(t, err.Error(), path)
			assert.Contains(t, err.Error(), "the file changed (it was truncated) while it was read")
		})
	}

	undo()

	// Cut short once the headers are read: the structure check faults.
	copyFile(t, fixturePath(t, "echo"), path)
	defer loader.SetChecking(func(checked string) {
		if checked == path {
			require.NoError(t, os.Truncate(path, 4096))
		}
	})()
	_, err := loader.NewPlugin(loader.WithoutTrial(), loader.WithoutRecords()).Load(path)
	require.ErrorIs(t, err, loader.ErrNotPlugin)
	assert.Contains(t, err.Error(), path)
	assert.Contains(t, err.Error(), "the file changed (it was truncated) while it was read")
}

// TestFIFOsDoNotHang: every file the loader reads is opened as a regular
// file or not at all; a FIFO is refused at once instead of blocking for a
// writer that never comes.
func TestFIFOsDoNotHang(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "client_echo.so")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, sumfile.FileName), 0o644))
	calls := map[string]func() error{
		"Inspect":   func() error { _, err := loader.Inspect(fifo); return err },
		"Preflight": func() error { return loader.Preflight(fifo, nil) },
		"ReadHost":  func() error { _, err := loader.ReadHost(fifo); return err },
		"ReadSums":  func() error { _, err := sumfile.Read(filepath.Join(dir, sumfile.FileName)); return err },
		"FileSum":   func() error { _, err := sumfile.File(fifo); return err },
		"Load":      func() error { _, err := loader.Load(fifo); return err },
	}
	if !testing.Short() { // a real plugin file, beside a plugink.sum that is a FIFO
		other := t.TempDir()
		require.NoError(t, os.Link(fixturePath(t, "echo"), filepath.Join(other, "client_echo.so")))
		require.NoError(t, syscall.Mkfifo(filepath.Join(other, sumfile.FileName), 0o644))
		calls["Manifest.Load"] = func() error {
			m := &loader.Manifest{File: "plugink.yaml", Dir: other,
				Plugins: []runtime.Config{{Name: "echo", Type: "client", Path: echoPkg, NewFunc: "NewClient"}}}
			return m.Load(loader.WithRegistry(runtime.NewRegistry()))
		}
	}
	for name, call := range calls {
		done := make(chan error, 1)
		go func() { done <- call() }()
		select {
		case err := <-done:
			require.Error(t, err, name)
			assert.True(t, errors.Is(err, fsx.ErrNotRegular) || errors.Is(err, loader.ErrNotPlugin), "%s: %v", name, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s hangs on a FIFO", name)
		}
	}
}

// TestPreflightSeesAChangedMainModule: build information cannot see a
// change in the host's own module (or a module replaced by a directory);
// the package fingerprints can. A plugin built before the change is
// refused by preflight, naming the package, not by plugin.Open.
func TestPreflightSeesAChangedMainModule(t *testing.T) {
	testmod.SkipIfShort(t)
	dir := t.TempDir()
	lib := "package lib\n\nfunc Hello() string { return \"hello\" }\n"
	testmod.Write(t, dir, map[string]string{
		"go.mod":         "module example.com/svc\n\ngo 1.26\n\nrequire github.com/plugink/plugink v0.0.0\n\nreplace github.com/plugink/plugink => " + testmod.Root(t) + "\n",
		"lib/lib.go":     lib,
		"plug/plug.go":   "package plug\n\nimport \"example.com/svc/lib\"\n\nfunc New() string { return lib.Hello() }\n",
		"host/main.go":   hostMain,
		"client/kind.go": "package client\n",
	})
	testmod.Go(t, dir, "mod", "tidy")
	host := filepath.Join(dir, "host.bin")
	testmod.Go(t, dir, "build", "-o", host, "./host")
	h, err := loader.ReadHost(host)
	require.NoError(t, err)
	bi := h.BuildInfo
	plugin := filepath.Join(dir, "plug.so")
	l := loader.NewPlugin(loader.WithBuildOptions(loader.BuildOptions{Dir: dir, Host: bi}))
	require.NoError(t, l.Build(plugin, &runtime.Config{Name: "plug", Type: "greeter", Path: "example.com/svc/plug", NewFunc: "New"}))
	require.NoError(t, loader.Preflight(plugin, h))

	// Change the host's own package lib, and rebuild the host only.
	testmod.Write(t, dir, map[string]string{"lib/lib.go": lib + "\nfunc Bye() string { return \"bye\" }\n"})
	testmod.Go(t, dir, "build", "-o", host, "./host")
	h, err = loader.ReadHost(host)
	require.NoError(t, err)
	err = loader.Preflight(plugin, h)
	var mm *loader.MismatchError
	require.ErrorAs(t, err, &mm)
	assert.Equal(t, "package example.com/svc/lib", mm.Diffs[0].What, err.Error())
	assert.Contains(t, runtime.Hints(err)[0], "built from different sources")

	out, err := runIn("", host, plugin)
	require.Error(t, err)
	assert.Contains(t, out, "preflight "+plugin+": built differently from the host: package example.com/svc/lib: plugin ")
	assert.NotContains(t, out, "plugin was built with a different version")
}

// hostMain is a host that loads the plugin its argument names.
const hostMain = `package main

import (
	"fmt"
	"os"

	"example.com/svc/lib"
	"github.com/plugink/plugink/loader"
	"github.com/plugink/plugink/runtime"
)

func main() {
	_ = lib.Hello()
	runtime.MustDeclare("greeter", map[string]func() string{})
	if _, err := loader.LoadAll(os.Args[1:]); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("loaded")
}
`

// TestSumBesideTheFile: a file named directly (as MICRO_PLUGIN names them)
// is verified against the plugink.sum in its own directory when that file
// lists it; a verified file skips the trial open.
func TestSumBesideTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "client_tamper.so")
	copyFile(t, fixturePath(t, "tamper"), path)
	sum, err := sumfile.File(path)
	require.NoError(t, err)
	require.NoError(t, sumfile.Write(filepath.Join(dir, sumfile.FileName), loader.Sums{path: strings.Repeat("0", 64)}))
	_, err = loader.Load(path)
	var ce *loader.ChecksumError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, path, ce.Path)
	assert.Equal(t, sum, ce.Got)

	t.Setenv(loader.EnvPlugins, path)
	_, err = loader.LoadEnv()
	require.ErrorIs(t, err, loader.ErrChecksum, "MICRO_PLUGIN's files too")
	assert.True(t, strings.HasPrefix(err.Error(), "MICRO_PLUGIN: checksum "+path), err.Error())
}

// TestCompileErrorNamesTheGeneratedFile: when the module sits directly in
// the temporary directory, the go command names the generated main
// package's stand-in by a relative path (../plugink-build-N/main.go); Build
// names it as the package it is compiled as, either way.
func TestCompileErrorNamesTheGeneratedFile(t *testing.T) {
	testmod.SkipIfShort(t)
	mod, err := os.MkdirTemp("", "plugink-mod-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(mod) })
	testmod.Write(t, mod, map[string]string{
		"go.mod":   "module example.com/m\n\ngo 1.26\n\nrequire github.com/plugink/plugink v0.0.0\n\nreplace github.com/plugink/plugink => " + testmod.Root(t) + "\n",
		"p/p.go":   "package p\n\nfunc New() {}\n",
		"p/use.go": "package p\n\nimport _ \"github.com/plugink/plugink/runtime\"\n",
	})
	testmod.Go(t, mod, "mod", "tidy")
	l := loader.NewPlugin(loader.WithBuildOptions(loader.BuildOptions{Dir: mod, Env: []string{"GOWORK=off"}}))
	err = l.Build(filepath.Join(mod, "out.so"), &runtime.Config{Name: "broken", Type: "client", Path: "example.com/m/p", NewFunc: "DoesNotExist"})
	var be *loader.BuildError
	require.ErrorAs(t, err, &be)
	assert.Contains(t, be.Output, "_plugink/client/broken/main.go")
	assert.NotContains(t, be.Output, "plugink-build-")
}

// TestTrialIgnoresWhatThePluginPrints: the trial's verdict comes on a pipe
// of its own, so a plugin whose init prints without end, or starts a
// process that holds the outputs open, neither fails the trial nor keeps
// Load waiting for that process.
func TestTrialIgnoresWhatThePluginPrints(t *testing.T) {
	path := fixturePath(t, "noisyinit")
	start := time.Now()
	cfg, err := loader.Load(path)
	require.NoError(t, err)
	assert.Equal(t, "client/noisy", cfg.String())
	assert.Less(t, time.Since(start), 5*time.Second, "Load waited for the process the plugin started")
}
