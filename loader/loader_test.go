package loader_test

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	sumfile "github.com/plugink/plugink/internal/sums"
	"github.com/plugink/plugink/internal/testmod"
	"github.com/plugink/plugink/loader"
	"github.com/plugink/plugink/loader/internal/hostcmp"
	"github.com/plugink/plugink/loader/internal/records"
	"github.com/plugink/plugink/loader/internal/testkind"
	"github.com/plugink/plugink/runtime"
)

// TestGoMicroExample is go-micro's plugin story: Build a client plugin from
// a Config naming its constructor, Load it, read its Config, register it
// and call the constructor.
func TestGoMicroExample(t *testing.T) {
	path := fixturePath(t, "echo") // loader.Build(path, &runtime.Config{Name: "echo", ..., NewFunc: "NewClient"})

	cfg, err := loader.Load(path)
	require.NoError(t, err)
	assert.Equal(t, "echo", cfg.Name)
	assert.Equal(t, "client", cfg.Type)
	assert.Equal(t, echoPkg, cfg.Path)
	newClient, ok := cfg.NewFunc.(func(...testkind.Option) testkind.Client)
	require.True(t, ok, "NewFunc is a %T", cfg.NewFunc)
	reply, err := newClient(testkind.WithPrefix("> ")).Call("hi")
	require.NoError(t, err)
	assert.Equal(t, "> echo: hi", reply)

	reg, kind := newRegistry(t)
	l := loader.NewPlugin(loader.WithRegistry(reg))
	require.NoError(t, l.Init(cfg))
	assert.Equal(t, []string{"echo"}, kind.Names())
	name, f, err := kind.Select("echo")
	require.NoError(t, err)
	reply, err = f().Call("again")
	require.NoError(t, err)
	assert.Equal(t, "echo", name)
	assert.Equal(t, "echo: again", reply)
}

// TestBuildAliasesThePackage builds a plugin from a package whose name
// (greet) is neither its directory (greet-go) nor the last element of its
// import path (v2).
func TestBuildAliasesThePackage(t *testing.T) {
	cfg, err := loader.Load(fixturePath(t, "greet"))
	require.NoError(t, err)
	assert.Equal(t, greetPkg, cfg.Path)
	reply, err := cfg.NewFunc.(testkind.NewFunc)().Call("you")
	require.NoError(t, err)
	assert.Equal(t, "hello, you", reply)
}

func TestInspectReadsMetadataWithoutOpening(t *testing.T) {
	path := fixturePath(t, "tamper") // no test opens this one before checking it
	info, err := loader.Inspect(path)
	require.NoError(t, err)
	assert.Equal(t, &runtime.Config{Name: "tamper", Type: "client", Path: echoPkg, NewFunc: "NewClient"}, info.Config)
	assert.Equal(t, "github.com/plugink/plugink/_plugink/client/tamper", info.PluginPath)
	assert.Equal(t, "(devel)", info.Plugink)
	assert.Equal(t, "plugin", buildSetting(info, "-buildmode"))
	want, err := buildinfo.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, want, info.BuildInfo, "the loader reads the build information as debug/buildinfo does")
	sum, err := sumfile.File(path)
	require.NoError(t, err)
	assert.Equal(t, sum, info.SHA256)

	t.Run("a plugin plugink did not build has no Config", func(t *testing.T) {
		info, err := loader.Inspect(fixturePath(t, "nilfunc"))
		require.NoError(t, err)
		assert.Nil(t, info.Config)
		assert.Equal(t, testdataPkg+"/mains/nilfunc", info.PluginPath)
	})
	t.Run("not a plugin", func(t *testing.T) {
		exe, err := os.Executable()
		require.NoError(t, err)
		_, err = loader.Inspect(exe)
		assert.ErrorIs(t, err, loader.ErrNotPlugin)
	})
}

func buildSetting(info *loader.Info, key string) string {
	for _, s := range info.BuildInfo.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

func TestLoadSameFileTwice(t *testing.T) {
	path := fixturePath(t, "echo")
	first, err := loader.Load(path)
	require.NoError(t, err)
	again, err := loader.NewPlugin().Load(path)
	require.NoError(t, err)
	assert.Same(t, first, again)

	link := filepath.Join(t.TempDir(), "link.so")
	require.NoError(t, os.Symlink(path, link))
	viaSymlink, err := loader.Load(link)
	require.NoError(t, err)
	assert.Same(t, first, viaSymlink)

	hard := filepath.Join(t.TempDir(), "hardlink-echo.so") // same file system as fixtureDir: both under os.TempDir()
	require.NoError(t, os.Link(path, hard))
	viaHardLink, err := loader.Load(hard)
	require.NoError(t, err)
	assert.Same(t, first, viaHardLink)
}

func TestLoadSamePluginpathFromAnotherFile(t *testing.T) {
	path := fixturePath(t, "echo")
	first, err := loader.Load(path)
	require.NoError(t, err)

	// A copy (the same contents) is the plugin already loaded.
	copied := filepath.Join(t.TempDir(), "copy-of-echo.so")
	copyFile(t, path, copied)
	again, err := loader.Load(copied)
	require.NoError(t, err)
	assert.Same(t, first, again)

	// Another file with the same pluginpath cannot load: Go would say only
	// "plugin already loaded".
	other := fixturePath(t, "echo2")
	_, err = loader.Load(other)
	require.ErrorIs(t, err, loader.ErrPluginPath)
	assert.Equal(t, fmt.Sprintf(`load %s: pluginpath already loaded from another file: %s, loaded before from %s, has the same pluginpath "github.com/plugink/plugink/_plugink/client/echo" and other contents`, other, other, path), err.Error())
	assert.Contains(t, runtime.Hints(err)[0], "a process loads one plugin per pluginpath")
	assert.NotContains(t, err.Error(), "plugin.Open")
}

// TestLoadRejects covers every file Load refuses before or while opening it.
func TestLoadRejects(t *testing.T) {
	dir := t.TempDir()
	echo := fixturePath(t, "echo")
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o644))
		return p
	}
	echoBytes, err := os.ReadFile(echo)
	require.NoError(t, err)
	patched := func(name string, off int, b byte) string {
		data := append([]byte(nil), echoBytes...)
		data[off] = b
		return write(name, data)
	}
	// The low byte of e_machine: EM_AARCH64, or EM_X86_64 on arm64.
	otherArch, otherMachine := "arm64", byte(elf.EM_AARCH64)
	if goruntime.GOARCH == "arm64" {
		otherArch, otherMachine = "amd64", byte(elf.EM_X86_64)
	}
	// otherOS rewrites the GOOS in the build information (a name of the
	// same length keeps the encoding valid).
	otherOS := map[string]string{"linux": "plan9", "darwin": "netbsd", "freebsd": "openbsd"}[goruntime.GOOS]
	require.NotEmpty(t, otherOS)
	goosSetting := []byte("\tGOOS=" + goruntime.GOOS + "\n")
	require.True(t, bytes.Contains(echoBytes, goosSetting))
	otherOSFile := write("otheros.so", bytes.ReplaceAll(echoBytes, goosSetting, []byte("\tGOOS="+otherOS+"\n")))
	exe, err := os.Executable()
	require.NoError(t, err)

	tests := []struct {
		name string
		path string
		is   error
		want string
	}{
		{"missing file", filepath.Join(dir, "missing.so"), os.ErrNotExist, "file does not exist"},
		{"directory", dir, loader.ErrNotPlugin, "not a Go plugin: a directory, not a file"},
		{"empty file", write("empty.so", nil), loader.ErrNotPlugin, "file too short to be a shared object"},
		{"not ELF", write("text.so", []byte("#!/bin/sh\necho not a plugin\n")), loader.ErrNotPlugin, `not an ELF or Mach-O shared object (file starts with "#!/b")`},
		{"corrupt ELF", write("truncated.so", echoBytes[:len(echoBytes)/3]), loader.ErrNotPlugin, "corrupt ELF file"},
		{"executable, not shared object", exe, loader.ErrNotPlugin, "an ELF executable (ET_EXEC), not a shared object (ET_DYN)"},
		{"other architecture", patched(otherArch+".so", 18, otherMachine), loader.ErrPlatform, "the file is a 64-bit ELF shared object for " + otherArch + ", this program runs on " + goruntime.GOOS + "/" + goruntime.GOARCH},
		{"other word size", patched("class32.so", 4, 1), loader.ErrNotPlugin, "corrupt ELF file"},
		{"other OS", otherOSFile, loader.ErrPlatform, "built for " + otherOS + "/" + goruntime.GOARCH + ", this program runs on " + goruntime.GOOS + "/" + goruntime.GOARCH},
		{"no Plugin symbol", fixturePath(t, "noplugin"), loader.ErrNoSymbol, "the plugin exports no variable Plugin"},
		{"Plugin of another type", fixturePath(t, "wrongtype"), loader.ErrSymbolType, "Plugin is a variable of type main.Config (" + testdataPkg + "/mains/wrongtype), want a variable of type runtime.Config"},
		{"nil NewFunc", fixturePath(t, "nilfunc"), runtime.ErrInvalid, "plugin client/nilfunc: Plugin.NewFunc is nil"},
		{"NewFunc as a name", fixturePath(t, "namefunc"), runtime.ErrInvalid, `plugin client/namefunc: Plugin.NewFunc is the string "NewClient", not a func`},
	}
	if cLib := buildCSharedObject(t, dir); cLib != "" {
		tests = append(tests, struct {
			name string
			path string
			is   error
			want string
		}{"C shared library", cLib, loader.ErrNotPlugin, "no Go build information in this ELF file"})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loader.Load(tc.path)
			require.Error(t, err)
			assert.Nil(t, cfg)
			assert.ErrorIs(t, err, tc.is)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), "load "+tc.path+": "), err.Error())
			var le *loader.LoadError
			require.ErrorAs(t, err, &le)
			assert.Equal(t, tc.path, le.Path)

			// Loading again gives the same answer: nothing was half-done.
			_, again := loader.Load(tc.path)
			assert.Equal(t, err.Error(), again.Error())
		})
	}
}

// buildCSharedObject compiles a C shared library with the C compiler cgo
// uses, or returns "" when there is none.
func buildCSharedObject(t *testing.T, dir string) string {
	src := filepath.Join(dir, "lib.c")
	require.NoError(t, os.WriteFile(src, []byte("int answer(void) { return 42; }\n"), 0o644))
	out := filepath.Join(dir, "libanswer.so")
	if err := runCC(src, out); err != nil {
		t.Logf("no C shared object: %v", err)
		return ""
	}
	return out
}

func TestInitRejects(t *testing.T) {
	t.Run("unknown kind", func(t *testing.T) {
		reg, _ := newRegistry(t)
		cfg, err := loader.Load(fixturePath(t, "unknownkind"))
		require.NoError(t, err)
		err = loader.NewPlugin(loader.WithRegistry(reg)).Init(cfg)
		require.ErrorIs(t, err, runtime.ErrUnknownKind)
		assert.Equal(t, `plugin "echo": unknown kind "nosuchkind" (declared kinds: client)`, err.Error())
	})
	t.Run("NewFunc of another signature", func(t *testing.T) {
		reg, kind := newRegistry(t)
		path := fixturePath(t, "wrongsig")
		_, err := loader.NewPlugin(loader.WithRegistry(reg)).LoadAll([]string{path})
		require.ErrorIs(t, err, runtime.ErrType)
		assert.Equal(t, "init "+path+`: plugin "wrongsig" (client): NewFunc has type func(string) string; kind client wants func(...testkind.Option) testkind.Client`, err.Error())
		assert.Empty(t, kind.Names())
	})
	t.Run("name already registered", func(t *testing.T) {
		reg, kind := newRegistry(t)
		require.NoError(t, kind.Register("echo", testkind.NewStatic))
		path := fixturePath(t, "echo")
		cfgs, err := loader.NewPlugin(loader.WithRegistry(reg)).LoadAll([]string{path})
		require.ErrorIs(t, err, runtime.ErrDuplicate)
		assert.Nil(t, cfgs)
		assert.Equal(t, "init "+path+`: plugin "echo" (client): name already registered`, err.Error())
		assert.Equal(t, []string{`to let client/echo replace the registered one, register it with runtime.ReplaceOnly("client/echo")`}, runtime.Hints(err))
		f, err := kind.Get("echo")
		require.NoError(t, err)
		assert.Equal(t, reflect.ValueOf(testkind.NewStatic).Pointer(), reflect.ValueOf(f).Pointer(), "the static registration is untouched")

		_, err = loader.NewPlugin(loader.WithRegistry(reg), loader.WithInitOptions(runtime.ReplaceOnly("client/other"))).LoadAll([]string{path})
		require.ErrorIs(t, err, runtime.ErrDuplicate, "ReplaceOnly names another plugin")
		f, err = kind.Get("echo")
		require.NoError(t, err)
		assert.Equal(t, reflect.ValueOf(testkind.NewStatic).Pointer(), reflect.ValueOf(f).Pointer(), "still the static registration")

		for _, opt := range []loader.Option{loader.WithInitOptions(runtime.ReplaceOnly("client/echo")), loader.WithInitOptions(runtime.ReplaceAll())} {
			require.NoError(t, kind.Register("echo", testkind.NewStatic, runtime.ReplaceAll()))
			cfgs, err = loader.NewPlugin(loader.WithRegistry(reg), opt).LoadAll([]string{path})
			require.NoError(t, err)
			f, err = kind.Get("echo")
			require.NoError(t, err)
			assert.Equal(t, reflect.ValueOf(cfgs[0].NewFunc).Pointer(), reflect.ValueOf(f).Pointer(), "replaced by the plugin")
		}
	})
	t.Run("same kind and name in two files", func(t *testing.T) {
		reg, kind := newRegistry(t)
		echo, dup := fixturePath(t, "echo"), fixturePath(t, "dupecho")
		_, err := loader.NewPlugin(loader.WithRegistry(reg)).LoadAll([]string{echo, dup})
		require.ErrorIs(t, err, runtime.ErrDuplicate)
		assert.Equal(t, "init "+echo+", "+dup+`: plugin "echo" (client): name already registered: given twice in one batch`, err.Error())
		assert.Empty(t, kind.Names())
	})
	t.Run("Init with NewFunc as a name", func(t *testing.T) {
		reg, kind := newRegistry(t)
		err := loader.NewPlugin(loader.WithRegistry(reg)).Init(&runtime.Config{Name: "echo", Type: "client", Path: echoPkg, NewFunc: "NewClient"})
		require.ErrorIs(t, err, runtime.ErrInvalid)
		assert.Contains(t, err.Error(), `NewFunc is the string "NewClient"; Init needs the constructor itself, a func value`)
		assert.Empty(t, kind.Names())
	})
}

func TestLoadAll(t *testing.T) {
	echo, greet := fixturePath(t, "echo"), fixturePath(t, "greet")

	t.Run("registers nothing when a file fails", func(t *testing.T) {
		reg, kind := newRegistry(t)
		missing := filepath.Join(t.TempDir(), "missing.so")
		noplugin := fixturePath(t, "noplugin")
		cfgs, err := loader.NewPlugin(loader.WithRegistry(reg)).LoadAll([]string{echo, missing, greet, noplugin})
		require.Error(t, err)
		assert.Nil(t, cfgs)
		assert.Empty(t, kind.Names())
		// The files are checked in parallel but opened in order: after
		// the missing one, none is opened.
		lines := strings.Split(err.Error(), "\n")
		require.Len(t, lines, 1, err.Error())
		assert.Contains(t, lines[0], "load "+missing+": ")
		assert.NotContains(t, err.Error(), noplugin)
	})
	t.Run("registers every file, once", func(t *testing.T) {
		reg, kind := newRegistry(t)
		l := loader.NewPlugin(loader.WithRegistry(reg))
		cfgs, err := l.LoadAll([]string{echo, "", greet, echo})
		require.NoError(t, err)
		require.Len(t, cfgs, 2)
		assert.Equal(t, []string{"echo", "greet"}, kind.Names())
		_, err = l.LoadAll([]string{greet, echo})
		assert.NoError(t, err, "loading and registering the same files again is a no-op")
	})
}

func TestLoadEnv(t *testing.T) {
	echo, greet := fixturePath(t, "echo"), fixturePath(t, "greet")

	t.Run("several files and empty entries", func(t *testing.T) {
		reg, kind := newRegistry(t)
		t.Setenv(loader.EnvPlugins, " ,"+echo+",, "+greet+" ,")
		assert.Equal(t, []string{echo, greet}, loader.EnvPaths())
		cfgs, err := loader.NewPlugin(loader.WithRegistry(reg)).LoadEnv()
		require.NoError(t, err)
		assert.Len(t, cfgs, 2)
		assert.Equal(t, []string{"echo", "greet"}, kind.Names())
	})
	t.Run("unset", func(t *testing.T) {
		reg, kind := newRegistry(t)
		t.Setenv(loader.EnvPlugins, "")
		cfgs, err := loader.NewPlugin(loader.WithRegistry(reg)).LoadEnv()
		require.NoError(t, err)
		assert.Nil(t, cfgs)
		assert.Empty(t, kind.Names())
	})
	t.Run("one error naming every failure", func(t *testing.T) {
		reg, kind := newRegistry(t)
		missing := filepath.Join(t.TempDir(), "missing.so")
		text := filepath.Join(t.TempDir(), "text.so")
		require.NoError(t, os.WriteFile(text, []byte("not a plugin"), 0o644))
		t.Setenv(loader.EnvPlugins, strings.Join([]string{echo, missing, text}, ","))
		_, err := loader.NewPlugin(loader.WithRegistry(reg)).LoadEnv()
		require.Error(t, err)
		assert.True(t, strings.HasPrefix(err.Error(), "MICRO_PLUGIN: load "+missing+": "), err.Error())
		assert.Contains(t, err.Error(), "\nload "+text+": not a Go plugin")
		assert.ErrorIs(t, err, os.ErrNotExist)
		assert.ErrorIs(t, err, loader.ErrNotPlugin)
		assert.Empty(t, kind.Names())
	})
}

func TestChecksums(t *testing.T) {
	// A copy: this test damages the file and restores it, and the fixture
	// is shared.
	path := filepath.Join(t.TempDir(), "client_tamper.so")
	copyFile(t, fixturePath(t, "tamper"), path)
	sums := loader.Sums{}
	sum, err := sums.Add(path)
	require.NoError(t, err)
	reg, kind := newRegistry(t)
	l := loader.NewPlugin(loader.WithRegistry(reg), loader.WithSums(sums))

	// Tamper with the file: one byte more.
	original, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, append(append([]byte(nil), original...), 0), 0o755))
	_, err = l.LoadAll([]string{path})
	var ce *loader.ChecksumError
	require.ErrorAs(t, err, &ce)
	assert.ErrorIs(t, err, loader.ErrChecksum)
	assert.Equal(t, sum, ce.Want)
	assert.NotEqual(t, sum, ce.Got)
	assert.Equal(t, "checksum "+path+": the file's SHA-256 is "+ce.Got+" but "+sum+" is recorded", ce.Error())
	assert.Empty(t, kind.Names())

	// The tampered file was never opened: once restored, it loads from the
	// same path (package plugin would otherwise remember the path).
	require.NoError(t, os.WriteFile(path, original, 0o755))
	cfgs, err := l.LoadAll([]string{path})
	require.NoError(t, err)
	assert.Equal(t, "tamper", cfgs[0].Name)
	assert.Equal(t, []string{"tamper"}, kind.Names())

	t.Run("required", func(t *testing.T) {
		_, err := loader.NewPlugin(loader.WithSums(sums), loader.WithSumsRequired()).Load(fixturePath(t, "greet"))
		require.ErrorIs(t, err, loader.ErrNoChecksum)
		assert.Contains(t, err.Error(), "no checksum recorded for "+fixturePath(t, "greet"))
	})
}

func TestSumsFile(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.so")
	b := filepath.Join(dir, "sub", "b c.so")
	require.NoError(t, os.MkdirAll(filepath.Dir(b), 0o755))
	require.NoError(t, os.WriteFile(a, []byte("plugin a"), 0o644))
	require.NoError(t, os.WriteFile(b, []byte("plugin b"), 0o644))
	sums := loader.Sums{}
	sumA, err := sums.Add(a)
	require.NoError(t, err)
	sumB, err := sums.Add(b)
	require.NoError(t, err)
	file := filepath.Join(dir, sumfile.FileName)
	require.NoError(t, sumfile.Write(file, sums))

	data, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, sumA+"  a.so\n"+sumB+"  sub/b c.so\n", string(data))
	if out, err := runIn(dir, "sha256sum", "-c", sumfile.FileName); err == nil || !strings.Contains(err.Error(), "executable file not found") {
		require.NoError(t, err, "sha256sum -c: %s", out)
		assert.Equal(t, "a.so: OK\nsub/b c.so: OK\n", out)
	}

	read, err := sumfile.Read(file)
	require.NoError(t, err)
	assert.Equal(t, sums, read)
	require.NoError(t, read.Verify(a))
	require.NoError(t, os.WriteFile(a, []byte("plugin A"), 0o644))
	assert.ErrorIs(t, read.Verify(a), loader.ErrChecksum)
	assert.ErrorIs(t, read.Verify(filepath.Join(dir, "other.so")), loader.ErrNoChecksum)

	t.Run("sha256sum's binary mode and escaped names", func(t *testing.T) {
		f := filepath.Join(dir, "escaped.sum")
		h := strings.Repeat("ab", 32)
		require.NoError(t, os.WriteFile(f, []byte(h+" *bin.so\n\n\\"+h+"  back\\\\slash.so\n"), 0o644))
		s, err := sumfile.Read(f)
		require.NoError(t, err)
		assert.Equal(t, loader.Sums{filepath.Join(dir, "bin.so"): h, filepath.Join(dir, `back\slash.so`): h}, s)
		require.NoError(t, sumfile.Write(f, s))
		again, err := sumfile.Read(f)
		require.NoError(t, err)
		assert.Equal(t, s, again)
	})
	t.Run("malformed", func(t *testing.T) {
		f := filepath.Join(dir, "bad.sum")
		require.NoError(t, os.WriteFile(f, []byte(sumA+"  a.so\nnot a checksum line\n"), 0o644))
		_, err := sumfile.Read(f)
		assert.EqualError(t, err, f+`:2: malformed line: want "<sha256 in hex>  <file name>"`)
		require.NoError(t, os.WriteFile(f, []byte(strings.Repeat("zz", 32)+"  a.so\n"), 0o644))
		_, err = sumfile.Read(f)
		assert.EqualError(t, err, f+`:1: malformed checksum "`+strings.Repeat("zz", 32)+`"`)
	})
}

// TestPreflightTrimpath loads a plugin that differs from the test binary in
// -trimpath only: plugin.Open would blame package internal/goarch.
func TestPreflightTrimpath(t *testing.T) {
	testmod.SkipIfShort(t)
	// A copy: this test rebuilds the file in place, and the fixture is
	// shared with other tests that need it mismatched.
	path := filepath.Join(t.TempDir(), "client_trimpath.so")
	copyFile(t, fixturePath(t, "trimpath"), path)
	plugin, host := fmt.Sprint(!hostTrimpath()), fmt.Sprint(hostTrimpath())
	want := "preflight " + path + ": built differently from the host: " +
		"-trimpath: plugin " + plugin + ", host " + host + "; and "

	err := loader.Preflight(path, nil)
	var mm *loader.MismatchError
	require.ErrorAs(t, err, &mm)
	assert.Equal(t, loader.Difference{What: "-trimpath", Plugin: plugin, Host: host}, mm.Diffs[0])
	assert.True(t, slices.ContainsFunc(mm.Diffs, func(d loader.Difference) bool { return d.What == "package runtime" }),
		"-trimpath changes every package's fingerprint")
	assert.True(t, strings.HasPrefix(err.Error(), want), err.Error())
	assert.Regexp(t, `; and \d+ packages differ as a result$`, err.Error(), "every package differs because of -trimpath: the message counts them")

	reg, kind := newRegistry(t)
	l := loader.NewPlugin(loader.WithRegistry(reg))
	_, err = l.LoadAll([]string{path})
	require.ErrorIs(t, err, loader.ErrMismatch)
	assert.True(t, strings.HasPrefix(err.Error(), want), err.Error())

	// The mismatched file was never opened: rebuilt with the host's
	// settings at the same path, it loads.
	require.NoError(t, loader.Build(path, &runtime.Config{Name: "trimpath", Type: "client", Path: echoPkg, NewFunc: "NewClient"}))
	require.NoError(t, loader.Preflight(path, nil))
	cfgs, err := l.LoadAll([]string{path})
	require.NoError(t, err)
	assert.Equal(t, "trimpath", cfgs[0].Name)
	assert.Equal(t, []string{"trimpath"}, kind.Names())

	// A file replaced after it was loaded cannot be loaded in this process.
	replacement := path + ".new"
	copyFile(t, path, replacement)
	require.NoError(t, os.Rename(replacement, path))
	_, err = l.Load(path)
	require.ErrorIs(t, err, loader.ErrReload)
	assert.Equal(t, "load "+path+": cannot load a changed plugin file again in this process: this process loaded "+path+
		" before it was replaced", err.Error())
	assert.Equal(t, []string{"package plugin remembers plugins by path for the life of a process: restart the process to load the new file"}, runtime.Hints(err))
}

// TestPreflightSharedModuleVersion checks a plugin that links another
// version of a module its host links too. The host is the program yamlhost:
// a test binary's build information lists no modules to compare.
func TestPreflightSharedModuleVersion(t *testing.T) {
	hostExe, _, err := yamlHostInfo()
	require.NoError(t, err)
	host, err := loader.ReadHost(hostExe)
	require.NoError(t, err)
	assert.Contains(t, host.Packages(), "go.yaml.in/yaml/v3", "the packages a host links")
	assert.Contains(t, host.Packages(), "github.com/plugink/plugink/loader")
	path := fixturePath(t, "yaml")

	err = loader.Preflight(path, host)
	var mm *loader.MismatchError
	require.ErrorAs(t, err, &mm)
	require.Len(t, mm.Diffs, 2, err.Error())
	d, pkg := mm.Diffs[0], mm.Diffs[1]
	assert.Equal(t, "module go.yaml.in/yaml/v3", d.What)
	assert.Regexp(t, `^`+regexp.QuoteMeta(yamlVariant)+` h1:\S+=$`, d.Plugin)
	assert.Regexp(t, `^v3\.\d+\.\d+ h1:\S+=$`, d.Host)
	assert.Equal(t, "package go.yaml.in/yaml/v3", pkg.What, "the fingerprints differ too")

	// In the host, Load refuses it before opening it.
	out, err := runIn("", hostExe, path)
	require.Error(t, err)
	assert.Equal(t, "preflight "+path+": built differently from the host: "+d.String()+"; "+pkg.String()+"\n", out)

	// Without preflight, plugin.Open notices a difference itself.
	out, err = runIn("", hostExe, "-nopreflight", path)
	require.Error(t, err)
	assert.Equal(t, "load "+path+": plugin.Open failed: plugin was built with a different version of package go.yaml.in/yaml/v3\n", out)
	// With preflight off, the trial open still keeps the host from
	// opening it, and so from remembering a failure for the path.

	// The same package built in the host's module loads.
	ok := fixturePath(t, "yamlok")
	require.NoError(t, loader.Preflight(ok, host))
	out, err = runIn("", hostExe, ok)
	require.NoError(t, err, out)
	assert.Equal(t, "loaded client/yamlok\n", out)
}

// TestLoadAllPackageFromAnEarlierPlugin loads, with one LoadAll, two
// plugins that link different versions of a package their host does not
// link. Both fit the host when the batch is checked; once the first is
// open, its version of the package is the process's, and the second is
// refused before plugin.Open, which would otherwise fail on it and refuse
// its path for good.
func TestLoadAllPackageFromAnEarlierPlugin(t *testing.T) {
	host := fixturePath(t, "loadallhost")
	ok, variant := fixturePath(t, "yamlok"), fixturePath(t, "yaml")
	settle(t, ok, variant) // so that they are recorded once loaded
	before := len(recordNames(t))

	out, err := runIn("", host, ok, variant)
	require.Error(t, err, out)
	assert.Regexp(t, `^preflight `+regexp.QuoteMeta(variant)+`: built differently from the host: package go.yaml.in/yaml/v3 \(as a plugin loaded before links it\): plugin [0-9a-f]+, host [0-9a-f]+\n$`, out)

	// Each alone loads.
	for _, p := range []string{ok, variant} {
		out, err := runIn("", host, p)
		require.NoError(t, err, out)
	}

	// Once both are recorded as loaded by this host, the second is refused
	// the same way, by the fingerprints its record holds.
	require.Len(t, recordNames(t), before+2, "both are recorded")
	out, err = runIn("", host, ok, variant)
	require.Error(t, err, out)
	assert.Regexp(t, `^preflight `+regexp.QuoteMeta(variant)+`: built differently from the host: package go.yaml.in/yaml/v3 \(as a plugin loaded before links it\): plugin [0-9a-f]+, host [0-9a-f]+\n$`, out)
}

// recordNames returns the names of the load records of this test run.
func recordNames(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(os.Getenv(records.Env))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// settle waits until the files' times are old enough for a load to record
// them.
func settle(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		time.Sleep(time.Until(fi.ModTime().Add(2100 * time.Millisecond)))
	}
}

func TestPanicInPluginInit(t *testing.T) {
	path := fixturePath(t, "panicinit")
	// The trial process meets the panic: this process never opens the
	// file, so a fixed file could still be loaded from the same path.
	_, err := loader.Load(path)
	require.ErrorIs(t, err, loader.ErrTrial)
	assert.Equal(t, "load "+path+": opening it in a trial process failed: a package init function panicked: panicinit: refusing to initialize", err.Error())

	// Without the trial, the panic is recovered in this process.
	_, err = loader.NewPlugin(loader.WithoutTrial()).Load(path)
	require.ErrorIs(t, err, loader.ErrOpen)
	assert.Equal(t, "load "+path+": plugin.Open failed: a package init function panicked: panicinit: refusing to initialize", err.Error())
	// A second Load must not call plugin.Open, which would block forever.
	_, again := loader.NewPlugin(loader.WithoutTrial()).Load(path)
	assert.Equal(t, err.Error(), again.Error())
}

// TestConcurrentLoadAndLookup loads and registers plugins from several
// goroutines while others look implementations up; run it with -race.
func TestConcurrentLoadAndLookup(t *testing.T) {
	paths := []string{fixturePath(t, "conc1"), fixturePath(t, "conc2"), fixturePath(t, "conc3")}
	reg, kind := newRegistry(t)
	require.NoError(t, kind.Register("static", testkind.NewStatic))
	l := loader.NewPlugin(loader.WithRegistry(reg))

	done := make(chan struct{})
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				f, err := kind.Get("static")
				if assert.NoError(t, err) {
					_, _ = f().Call("x")
				}
				names := kind.Names()
				assert.Contains(t, names, "static")
				for _, n := range names {
					_, err := kind.Get(n)
					assert.NoError(t, err)
				}
			}
		})
	}

	var loaders sync.WaitGroup
	got := make([][]*runtime.Config, 6)
	for i := range got {
		loaders.Go(func() {
			cfg, err := l.Load(paths[i%len(paths)])
			if assert.NoError(t, err) {
				assert.NoError(t, l.Init(cfg))
				got[i] = []*runtime.Config{cfg}
			}
		})
	}
	loaders.Wait()
	close(done)
	readers.Wait()

	for i := range got {
		require.Len(t, got[i], 1)
		assert.Same(t, got[i%len(paths)][0], got[i][0], "every Load of one file returns the same Config")
	}
	assert.Equal(t, []string{"conc1", "conc2", "conc3", "static"}, kind.Names())
	for _, n := range kind.Names() {
		f, err := kind.Get(n)
		require.NoError(t, err)
		_, err = f().Call("x")
		assert.NoError(t, err)
	}
}

func TestPreflightRejects(t *testing.T) {
	text := filepath.Join(t.TempDir(), "text.so")
	require.NoError(t, os.WriteFile(text, []byte("not a plugin"), 0o644))
	err := loader.Preflight(text, nil)
	assert.ErrorIs(t, err, loader.ErrNotPlugin)
	assert.Contains(t, err.Error(), "preflight "+text+": not a Go plugin")

	err = loader.Preflight(fixturePath(t, "echo"), hostcmp.NewHost(&debug.BuildInfo{GoVersion: "go1.26.8"}, nil))
	var mm *loader.MismatchError
	require.ErrorAs(t, err, &mm, "a host with other settings")
	assert.Equal(t, "GOOS", mm.Diffs[0].What)
}
