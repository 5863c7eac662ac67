package build

import (
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSourceDir: which of a host's modules an out-of-module build takes
// from source, and from where.
func TestSourceDir(t *testing.T) {
	src := t.TempDir()
	elsewhere := filepath.Join(t.TempDir(), "lib") // the machine that built the host
	rep := func(path, version string) *debug.Module { return &debug.Module{Path: path, Version: version} }
	for _, tc := range []struct {
		name       string
		main       string // the main module's version
		dep        *debug.Module
		hostSrc    string
		dir        string
		fromSource bool
	}{
		{name: "main devel", main: "(devel)", fromSource: true},
		{name: "main devel with source", main: "(devel)", hostSrc: src, dir: src, fromSource: true},
		{name: "main tagged", main: "v1.2.3"},
		{name: "main tagged with source", main: "v1.2.3", hostSrc: src, dir: src, fromSource: true},
		{name: "main dirty", main: "v1.2.3+dirty", fromSource: true},
		{name: "main pseudo dirty", main: "v0.0.0-20261126120000-0123456789ab+dirty", fromSource: true},
		{name: "dep by version", dep: &debug.Module{Path: "example.com/lib", Version: "v1.0.0"}},
		{name: "dep replaced by version", dep: &debug.Module{Path: "example.com/lib", Version: "v1.0.0", Replace: rep("example.com/fork", "v1.0.1")}},
		{name: "dep in workspace", dep: &debug.Module{Path: "example.com/lib", Version: "(devel)"}, hostSrc: src, fromSource: true},
		{name: "dep replaced relative", dep: &debug.Module{Path: "example.com/lib", Version: "v1.0.0", Replace: rep("../lib", "(devel)")}, hostSrc: src, dir: filepath.Join(src, "../lib"), fromSource: true},
		{name: "dep replaced relative without source", dep: &debug.Module{Path: "example.com/lib", Version: "v1.0.0", Replace: rep("../lib", "(devel)")}, fromSource: true},
		{name: "dep replaced absolute without source", dep: &debug.Module{Path: "example.com/lib", Version: "v1.0.0", Replace: rep(elsewhere, "(devel)")}, fromSource: true},
		{name: "dep replaced absolute with source", dep: &debug.Module{Path: "example.com/lib", Version: "v1.0.0", Replace: rep(elsewhere, "(devel)")}, hostSrc: src, dir: elsewhere, fromSource: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := &debug.BuildInfo{Main: debug.Module{Path: "example.com/host", Version: tc.main}}
			m := &host.Main
			if tc.dep != nil {
				host.Main.Version = "(devel)"
				host.Deps = []*debug.Module{tc.dep}
				m = tc.dep
			}
			dir, fromSource := sourceDir(m, host, tc.hostSrc)
			assert.Equal(t, tc.fromSource, fromSource)
			assert.Equal(t, tc.dir, dir)
		})
	}
}

// TestCheckPinsWorkspaceModule: a module the host took from its workspace
// is reported as such, with a hint that fits it, not as another version.
func TestCheckPinsWorkspaceModule(t *testing.T) {
	host := &debug.BuildInfo{Main: debug.Module{Path: "example.com/host", Version: "v1.0.0"},
		Deps: []*debug.Module{{Path: "example.com/lib", Version: "(devel)"}}}
	hostMods := map[string]*debug.Module{"example.com/lib": host.Deps[0]}
	err := checkPins([]listedModule{{Path: "example.com/plug", Main: true}, {Path: "example.com/lib", Version: "v1.4.0"}}, hostMods, host, "")
	var pe *PinError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, []string{`module example.com/lib: the host built it from a directory (a module of its workspace, version "(devel)"), whose source cannot be fetched by version`}, pe.Problems)
	assert.Contains(t, pe.Hint, "workspace")
}
