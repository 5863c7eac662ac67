package hostcmp_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/internal/testmod"
	"github.com/plugink/plugink/loader/internal/hostcmp"
)

// buildInfo returns a host's or a plugin's build information; change edits
// it.
func buildInfo(mode string, change func(*debug.BuildInfo)) *debug.BuildInfo {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Path:      "example.com/host/cmd/host",
		Main:      debug.Module{Path: "example.com/host", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "example.com/a", Version: "v1.0.0", Sum: "h1:aaa="},
			{Path: "example.com/b", Version: "v1.2.0", Sum: "h1:bbb="},
			{Path: "example.com/fork", Version: "v1.0.0", Replace: &debug.Module{Path: "example.com/myfork", Version: "v1.0.1", Sum: "h1:fff="}},
			{Path: "example.com/local", Version: "v0.0.0", Replace: &debug.Module{Path: "../local", Version: "(devel)"}},
			{Path: "example.com/only-" + mode, Version: "v1.0.0", Sum: "h1:ooo="},
		},
		Settings: []debug.BuildSetting{
			{Key: "-buildmode", Value: mode},
			{Key: "-compiler", Value: "gc"},
			{Key: "-race", Value: "true"},
			{Key: "-tags", Value: "netgo,foo"},
			{Key: "CGO_ENABLED", Value: "1"},
			{Key: "CGO_CFLAGS", Value: "-O2 -g"},
			{Key: "GOARCH", Value: "amd64"},
			{Key: "GOOS", Value: "linux"},
			{Key: "GOAMD64", Value: "v1"},
		},
	}
	if mode == "plugin" {
		bi.Path = "example.com/host/_plugink/client/brpc"
	}
	if change != nil {
		change(bi)
	}
	return bi
}

func set(key, value string) func(*debug.BuildInfo) {
	return func(bi *debug.BuildInfo) {
		for i, s := range bi.Settings {
			if s.Key == key {
				if value == "" {
					bi.Settings = append(bi.Settings[:i], bi.Settings[i+1:]...)
				} else {
					bi.Settings[i].Value = value
				}
				return
			}
		}
		bi.Settings = append(bi.Settings, debug.BuildSetting{Key: key, Value: value})
	}
}

func dep(path string, change func(*debug.Module)) func(*debug.BuildInfo) {
	return func(bi *debug.BuildInfo) {
		for _, d := range bi.Deps {
			if d.Path == path {
				change(d)
				return
			}
		}
		panic("no dep " + path)
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name   string
		plugin func(*debug.BuildInfo)
		host   func(*debug.BuildInfo)
		want   []hostcmp.Difference
	}{
		{name: "same build", want: nil},
		{name: "tags in another order, and plugink_dynamic only in the host",
			plugin: set("-tags", "foo,netgo"), host: set("-tags", "netgo,plugink_dynamic,foo"), want: nil},
		{name: "C flags, ldflags and DefaultGODEBUG do not matter",
			plugin: func(bi *debug.BuildInfo) {
				set("CGO_CFLAGS", "-O0")(bi)
				set("-ldflags", "-s -w")(bi)
				set("DefaultGODEBUG", "panicnil=1")(bi)
			}, want: nil},
		{name: "go version", plugin: func(bi *debug.BuildInfo) { bi.GoVersion = "go1.26.7" },
			want: []hostcmp.Difference{{What: "go", Plugin: "go1.26.7", Host: "go1.26.8"}}},
		{name: "-trimpath", plugin: set("-trimpath", "true"),
			want: []hostcmp.Difference{{What: "-trimpath", Plugin: "true", Host: "false"}}},
		{name: "-race", host: set("-race", ""),
			want: []hostcmp.Difference{{What: "-race", Plugin: "true", Host: "false"}}},
		{name: "GOAMD64", plugin: set("GOAMD64", "v3"),
			want: []hostcmp.Difference{{What: "GOAMD64", Plugin: "v3", Host: "v1"}}},
		{name: "CGO_ENABLED", host: set("CGO_ENABLED", "0"),
			want: []hostcmp.Difference{{What: "CGO_ENABLED", Plugin: "1", Host: "0"}}},
		{name: "tags", plugin: set("-tags", "netgo"),
			want: []hostcmp.Difference{{What: "-tags", Plugin: "netgo", Host: "foo,netgo"}}},
		{name: "gcflags", plugin: set("-gcflags", "all=-N -l"),
			want: []hostcmp.Difference{{What: "-gcflags", Plugin: "all=-N -l", Host: ""}}},
		{name: "GOEXPERIMENT", host: set("GOEXPERIMENT", "greenteagc"),
			want: []hostcmp.Difference{{What: "GOEXPERIMENT", Plugin: "", Host: "greenteagc"}}},
		{name: "module version", plugin: dep("example.com/b", func(m *debug.Module) { m.Version, m.Sum = "v1.3.0", "h1:ccc=" }),
			want: []hostcmp.Difference{{What: "module example.com/b", Plugin: "v1.3.0 h1:ccc=", Host: "v1.2.0 h1:bbb="}}},
		{name: "module checksum", plugin: dep("example.com/a", func(m *debug.Module) { m.Sum = "h1:xxx=" }),
			want: []hostcmp.Difference{{What: "module example.com/a", Plugin: "v1.0.0 h1:xxx=", Host: "v1.0.0 h1:aaa="}}},
		{name: "module replaced in one only", host: dep("example.com/a", func(m *debug.Module) { m.Sum, m.Replace = "", &debug.Module{Path: "../a", Version: "(devel)"} }),
			want: []hostcmp.Difference{{What: "module example.com/a", Plugin: "v1.0.0 h1:aaa=", Host: "v1.0.0 => ../a"}}},
		{name: "module replaced by another version", plugin: dep("example.com/fork", func(m *debug.Module) { m.Replace.Version, m.Replace.Sum = "v1.0.2", "h1:ggg=" }),
			want: []hostcmp.Difference{{What: "module example.com/fork", Plugin: "v1.0.0 => example.com/myfork v1.0.2 h1:ggg=", Host: "v1.0.0 => example.com/myfork v1.0.1 h1:fff="}}},
		// Two directories: build information cannot tell whether their
		// contents are the same; the package fingerprints tell.
		{name: "module replaced by other directories", plugin: dep("example.com/local", func(m *debug.Module) { m.Replace.Path = "../../local" }),
			want: nil},
		{name: "the host's main module, from a directory in the plugin's build",
			plugin: func(bi *debug.BuildInfo) {
				bi.Main = debug.Module{Path: "example.com/plugin", Version: "(devel)"}
				bi.Deps = append(bi.Deps, &debug.Module{Path: "example.com/host", Version: "v0.0.0", Replace: &debug.Module{Path: "/src/host", Version: "(devel)"}})
			}, want: nil},
		{name: "the host's main module, at a version in the plugin's build",
			plugin: func(bi *debug.BuildInfo) {
				bi.Main = debug.Module{Path: "example.com/plugin", Version: "(devel)"}
				bi.Deps = append(bi.Deps, &debug.Module{Path: "example.com/host", Version: "v1.4.0", Sum: "h1:hhh="})
			},
			want: []hostcmp.Difference{{What: "module example.com/host", Plugin: "v1.4.0 h1:hhh=", Host: "(devel)"}}},
		{name: "everything at once, in order",
			plugin: func(bi *debug.BuildInfo) {
				bi.GoVersion = "go1.25.0"
				set("-trimpath", "true")(bi)
				set("GOAMD64", "v2")(bi)
				set("-tags", "")(bi)
				dep("example.com/b", func(m *debug.Module) { m.Version = "v1.1.0" })(bi)
				dep("example.com/a", func(m *debug.Module) { m.Sum = "h1:zzz=" })(bi)
			},
			host: set("-race", "false"),
			want: []hostcmp.Difference{
				{What: "go", Plugin: "go1.25.0", Host: "go1.26.8"},
				{What: "GOAMD64", Plugin: "v2", Host: "v1"},
				{What: "-trimpath", Plugin: "true", Host: "false"},
				{What: "-race", Plugin: "true", Host: "false"},
				{What: "-tags", Plugin: "", Host: "foo,netgo"},
				{What: "module example.com/a", Plugin: "v1.0.0 h1:zzz=", Host: "v1.0.0 h1:aaa="},
				{What: "module example.com/b", Plugin: "v1.1.0 h1:bbb=", Host: "v1.2.0 h1:bbb="},
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := hostcmp.Compare(buildInfo("plugin", tc.plugin), buildInfo("exe", tc.host))
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestMismatchErrorMessage(t *testing.T) {
	err := &hostcmp.MismatchError{Path: "p.so", Diffs: []hostcmp.Difference{
		{What: "-race", Plugin: "true", Host: "false"},
		{What: "-gcflags", Plugin: "all=-N", Host: ""},
	}}
	assert.Equal(t, "preflight p.so: built differently from the host: "+
		"-race: plugin true, host false; -gcflags: plugin all=-N, host (none)", err.Error())
	assert.ErrorIs(t, err, hostcmp.ErrMismatch)

	// A build setting or the Go version comes first, and the packages that
	// differ because of it are counted, not listed (Diffs has them).
	var pkgs []hostcmp.Difference
	for i := range 40 {
		pkgs = append(pkgs, hostcmp.Difference{What: fmt.Sprintf("package example.com/p%02d", i), Plugin: "aa", Host: "bb"})
	}
	err = &hostcmp.MismatchError{Path: "p.so", Diffs: append([]hostcmp.Difference{
		{What: "go", Plugin: "go1.26.0", Host: "go1.26.1"},
		{What: "-trimpath", Plugin: "true", Host: ""},
		{What: "module example.com/m", Plugin: "v1.0.0", Host: "v1.1.0"},
	}, pkgs...)}
	assert.Equal(t, "preflight p.so: built differently from the host: go: plugin go1.26.0, host go1.26.1; "+
		"-trimpath: plugin true, host (none); module example.com/m: plugin v1.0.0, host v1.1.0; and 40 packages differ as a result", err.Error())
	assert.Equal(t, "rebuild the plugin for this host with plugink build and -host naming the host's binary (or loader.Build with BuildOptions.Host)", err.ErrorHint())

	// Without one, the packages are the news: the first ones are named.
	err = &hostcmp.MismatchError{Path: "p.so", Diffs: pkgs[:12]}
	assert.Equal(t, "preflight p.so: built differently from the host: package example.com/p00: plugin aa, host bb; "+
		"package example.com/p01: plugin aa, host bb; package example.com/p02: plugin aa, host bb; package example.com/p03: plugin aa, host bb; "+
		"package example.com/p04: plugin aa, host bb; package example.com/p05: plugin aa, host bb; package example.com/p06: plugin aa, host bb; "+
		"package example.com/p07: plugin aa, host bb; package example.com/p08: plugin aa, host bb; package example.com/p09: plugin aa, host bb; "+
		"and 2 more packages", err.Error())
	assert.NotContains(t, err.ErrorHint(), "<", "no placeholder")
}

// TestReadHostOtherFormats: ReadHost reads fingerprints from ELF only. A
// static ELF program cannot load plugins; a Mach-O one is not judged.
func TestReadHostOtherFormats(t *testing.T) {
	testmod.SkipIfShort(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	require.NoError(t, os.WriteFile(src, []byte("package main\n\nfunc main() {}\n"), 0o644))
	for _, tc := range []struct {
		goos    string
		canLoad bool
	}{{"linux", false}, {"darwin", true}} {
		exe := filepath.Join(dir, tc.goos)
		cmd := exec.Command("go", "build", "-o", exe, src)
		cmd.Env = append(os.Environ(), "GOOS="+tc.goos, "GOARCH=amd64", "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		h, err := hostcmp.ReadHost(exe)
		require.NoError(t, err)
		assert.Equal(t, tc.canLoad, h.CanLoadPlugins(), tc.goos)
		assert.Nil(t, h.Packages(), "%s: no fingerprints, so the packages are not known", tc.goos)
	}
}

// TestHostPackages: a Host lists the packages it has fingerprints of,
// sorted, and nil when it has none.
func TestHostPackages(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8"}
	h := hostcmp.NewHost(bi, map[string]string{"example.com/b": "02", "example.com/a": "01"})
	assert.Equal(t, []string{"example.com/a", "example.com/b"}, h.Packages())
	h.Packages()[0] = "changed"
	assert.Equal(t, []string{"example.com/a", "example.com/b"}, h.Packages(), "a copy")
	assert.Nil(t, hostcmp.NewHost(bi, nil).Packages())
}
