package build

import (
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/mod/module"

	"github.com/plugink/plugink/runtime"
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
	err := checkPins([]listedModule{{Path: "example.com/plug", Main: true}, {Path: "example.com/lib", Version: "v1.4.0"}}, hostMods, host, "", nil)
	var pe *PinError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, []string{`module example.com/lib: the host built it from a directory (a module of its workspace, version "(devel)"), whose source cannot be fetched by version`}, pe.Problems)
	assert.Contains(t, pe.Hint, "workspace")
}

// TestCheckHost: every field of the host's build information that an
// out-of-module build passes to go mod edit or writes into go.sum is
// checked first; a bad one refuses the host, naming the module and the
// field, quoted.
func TestCheckHost(t *testing.T) {
	const sum = "h1:xHBvcfUlNUxgEKqeGWCrZOkP8muLO3oMmfzZ+AqR9GU="
	src := t.TempDir()
	rep := func(path, version, sum string) *debug.Module {
		return &debug.Module{Path: path, Version: version, Sum: sum}
	}
	for _, tc := range []struct {
		name    string
		main    debug.Module // zero: example.com/host (devel)
		dep     *debug.Module
		hostSrc string
		field   string // the field named, "" for no error
		value   string
		reason  string // a substring of the reason
	}{
		{name: "by version", dep: rep("example.com/lib", "v1.0.0", sum)},
		{name: "pseudo-version", dep: rep("example.com/lib", "v0.0.0-20260101000000-0123456789ab", sum)},
		{name: "incompatible", dep: rep("example.com/lib", "v2.0.0+incompatible", sum)},
		{name: "major suffix", dep: rep("example.com/lib/v2", "v2.1.0", sum)},
		{name: "vendored, no checksum", dep: rep("example.com/lib", "v1.0.0", "")},
		{name: "replaced by version", dep: &debug.Module{Path: "lib", Version: "v1.0.0", Replace: rep("example.com/fork", "v1.0.1", sum)}},
		{name: "replaced by directory", dep: &debug.Module{Path: "lib", Version: "v0.0.0-00010101000000-000000000000", Replace: rep("../lib", "(devel)", "")}, hostSrc: src},
		{name: "replaced by directory, no version", dep: &debug.Module{Path: "example.com/lib", Version: "v1.0.0", Replace: rep("/src/lib", "", "")}},
		{name: "workspace module", dep: rep("example.com/lib", "(devel)", "")},
		{name: "main tagged", main: debug.Module{Path: "example.com/host", Version: "v1.0.0", Sum: sum}},
		{name: "main dirty", main: debug.Module{Path: "example.com/host", Version: "v1.0.0+dirty"}},
		{name: "main without a dot", main: debug.Module{Path: "svc", Version: "(devel)"}},
		{name: "main without a dot, stamped", main: debug.Module{Path: "svc", Version: "v0.0.0-20260101000000-0123456789ab"}},
		{name: "no main module", main: debug.Module{}},

		{name: "path with a leading dash", dep: rep("-example.com/lib", "v1.0.0", sum), field: "path", value: `"-example.com/lib"`, reason: "leading dash"},
		{name: "path with a newline", dep: rep("example.com/lib\n", "v1.0.0", sum), field: "path", value: `"example.com/lib\n"`, reason: "invalid char"},
		{name: "path not fetchable", dep: rep("lib", "v1.0.0", sum), field: "path", value: `"lib"`, reason: "missing dot"},
		{name: "version with a newline", dep: rep("example.com/lib", "v1.0.0\n-replace=x=y", sum), field: "version", value: `"v1.0.0\n-replace=x=y"`, reason: "semantic version"},
		{name: "version not canonical", dep: rep("example.com/lib", "v1.2", sum), field: "version", value: `"v1.2"`, reason: "canonical"},
		{name: "version with build metadata", dep: rep("example.com/lib", "v1.2.0+meta", sum), field: "version", reason: "canonical"},
		{name: "version of another major", dep: rep("example.com/lib/v2", "v1.0.0", sum), field: "version", reason: "should be v2"},
		{name: "devel where a version is fetched", dep: &debug.Module{Path: "example.com/lib", Version: "(devel)", Replace: rep("example.com/fork", "v1.0.0", sum)}, field: "version", value: `"(devel)"`},
		{name: "checksum with a newline", dep: rep("example.com/lib", "v1.0.0", "h1:xHBvcfUlNUxgEKqeGWCrZOkP8muLO3oM\nmfzZ+AqR9GU="), field: "checksum", reason: "base64"},
		{name: "checksum of another hash", dep: rep("example.com/lib", "v1.0.0", "h2:xHBvcfUlNUxgEKqeGWCrZOkP8muLO3oMmfzZ+AqR9GU="), field: "checksum", reason: `"h1:"`},
		{name: "checksum too short", dep: rep("example.com/lib", "v1.0.0", "h1:AAAA"), field: "checksum", reason: "SHA-256"},
		{name: "replacement path with a leading dash", dep: &debug.Module{Path: "example.com/lib", Version: "v1.0.0", Replace: rep("-fork", "v1.0.1", sum)}, field: "replacement path", value: `"-fork"`, reason: "leading dash"},
		{name: "replacement version bad", dep: &debug.Module{Path: "example.com/lib", Version: "v1.0.0", Replace: rep("example.com/fork", "v1.0.1 ", sum)}, field: "replacement version"},
		{name: "replacement checksum bad", dep: &debug.Module{Path: "example.com/lib", Version: "v1.0.0", Replace: rep("example.com/fork", "v1.0.1", "h1:x\n")}, field: "replacement checksum"},
		{name: "replacement directory with a newline", dep: &debug.Module{Path: "example.com/lib", Version: "v1.0.0", Replace: rep("../lib\nreplace x => y", "(devel)", "")}, hostSrc: src, field: "replacement path", value: `"../lib\nreplace x => y"`, reason: "control character"},
		{name: "replacement directory with surrounding space", dep: &debug.Module{Path: "example.com/lib", Version: "v1.0.0", Replace: rep("../lib ", "(devel)", "")}, field: "replacement path", reason: "space"},
		{name: "replacement neither a directory nor versioned", dep: &debug.Module{Path: "example.com/lib", Version: "v1.0.0", Replace: rep("lib", "(devel)", "")}, field: "replacement path", reason: "must be a directory"},
		{name: "directory replacement with another version", dep: &debug.Module{Path: "example.com/lib", Version: "v1.0.0", Replace: rep("../lib", "v1.0.0-dirty+dirty", "")}, field: "replacement version"},
		{name: "directory replacement required at a bad version", dep: &debug.Module{Path: "example.com/lib", Version: "(devel)", Replace: rep("../lib", "(devel)", "")}, hostSrc: src, field: "version"},
		{name: "workspace module at a bad version", dep: rep("example.com/lib", "devel\n", ""), field: "version", value: `"devel\n"`},
		{name: "main path with a leading dash", main: debug.Module{Path: "-host", Version: "(devel)"}, field: "path", value: `"-host"`},
		{name: "main version bad", main: debug.Module{Path: "example.com/host", Version: "v1\n"}, field: "version"},
		{name: "main version not canonical", main: debug.Module{Path: "example.com/host", Version: "v1.0"}, field: "version", reason: "canonical"},
		{name: "main checksum bad", main: debug.Module{Path: "example.com/host", Version: "v1.0.0", Sum: "h1:-"}, field: "checksum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := &debug.BuildInfo{Main: tc.main}
			if tc.main == (debug.Module{}) && tc.name != "no main module" {
				host.Main = debug.Module{Path: "example.com/host", Version: "(devel)"}
			}
			if tc.dep != nil {
				host.Deps = []*debug.Module{{Path: "example.com/other", Version: "v1.0.0", Sum: sum}, tc.dep}
			}
			err := checkHost(host, tc.hostSrc)
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			var he *HostInfoError
			require.ErrorAs(t, err, &he)
			assert.Equal(t, tc.field, he.Field)
			assert.Contains(t, he.Reason, tc.reason)
			msg := err.Error()
			assert.NotContains(t, msg, "\n", "the host's text is quoted")
			module := host.Main.Path
			if tc.dep != nil {
				module = tc.dep.Path
			}
			assert.Contains(t, msg, "module "+runtime.Quote(module)+": "+tc.field+" ")
			if tc.value != "" {
				assert.Contains(t, msg, ": "+tc.field+" "+tc.value+": ")
			}
			assert.Contains(t, he.ErrorHint(), "go version -m")
		})
	}
}

// TestCheckHostLongValue: a long bad value is cut in the message.
func TestCheckHostLongValue(t *testing.T) {
	long := "v1.0.0-" + strings.Repeat("x\n", 5000)
	err := checkHost(&debug.BuildInfo{Deps: []*debug.Module{{Path: "example.com/lib", Version: long}}}, "")
	require.Error(t, err)
	assert.Less(t, len(err.Error()), 400)
}

// TestEditArgs: what pins each kind of host module, and plugink's own
// module when the plugin's graph does not hold it yet (absent): it is
// required as well as replaced, as the host did.
func TestEditArgs(t *testing.T) {
	const sum = "h1:xHBvcfUlNUxgEKqeGWCrZOkP8muLO3oMmfzZ+AqR9GU="
	src := t.TempDir()
	pk := "github.com/plugink/plugink"
	for _, tc := range []struct {
		name    string
		host    *debug.BuildInfo
		absent  bool
		hostSrc string
		args    []string
		sums    []string
	}{
		{name: "by version",
			host: &debug.BuildInfo{Main: debug.Module{Path: "example.com/host", Version: "(devel)"}, Deps: []*debug.Module{{Path: pk, Version: "v0.7.0", Sum: sum}}},
			args: []string{"-require=" + pk + "@v0.7.0"}, sums: []string{pk + " v0.7.0 " + sum}},
		{name: "replaced by version, in the graph",
			host: &debug.BuildInfo{Main: debug.Module{Path: "example.com/host", Version: "(devel)"}, Deps: []*debug.Module{{Path: pk, Version: "v0.7.0", Replace: &debug.Module{Path: "example.com/fork", Version: "v0.7.1", Sum: sum}}}},
			args: []string{"-replace=" + pk + "=example.com/fork@v0.7.1"}, sums: []string{"example.com/fork v0.7.1 " + sum}},
		{name: "replaced by version, absent", absent: true,
			host: &debug.BuildInfo{Main: debug.Module{Path: "example.com/host", Version: "(devel)"}, Deps: []*debug.Module{{Path: pk, Version: "v0.7.0", Replace: &debug.Module{Path: "example.com/fork", Version: "v0.7.1", Sum: sum}}}},
			args: []string{"-replace=" + pk + "=example.com/fork@v0.7.1", "-require=" + pk + "@v0.7.0"}, sums: []string{"example.com/fork v0.7.1 " + sum}},
		{name: "replaced by a directory, absent", absent: true, hostSrc: src,
			host: &debug.BuildInfo{Main: debug.Module{Path: "example.com/host", Version: "(devel)"}, Deps: []*debug.Module{{Path: pk, Version: "v0.0.0", Replace: &debug.Module{Path: "../plugink", Version: "(devel)"}}}},
			args: []string{"-replace=" + pk + "=" + filepath.Join(src, "../plugink"), "-require=" + pk + "@v0.0.0"}},
		{name: "the host's main module, absent", absent: true, hostSrc: src,
			host: &debug.BuildInfo{Main: debug.Module{Path: pk, Version: "(devel)"}},
			args: []string{"-replace=" + pk + "=" + src, "-require=" + pk + "@v0.0.0-00010101000000-000000000000"}},
		{name: "the host's main module, in the graph", hostSrc: src,
			host: &debug.BuildInfo{Main: debug.Module{Path: pk, Version: "(devel)"}},
			args: []string{"-replace=" + pk + "=" + src}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, checkHost(tc.host, tc.hostSrc))
			hm := hostModules(tc.host)[pk]
			args, sums := editArgs([]*debug.Module{hm}, map[string]bool{pk: tc.absent}, tc.host, tc.hostSrc)
			assert.Equal(t, tc.args, args)
			var got []string
			for _, s := range sums {
				if s != "" {
					got = append(got, s)
				}
			}
			assert.Equal(t, tc.sums, got)
		})
	}
}

// TestZeroVersion: the zero pseudo-version fits the path's major version.
func TestZeroVersion(t *testing.T) {
	assert.Equal(t, "v0.0.0-00010101000000-000000000000", zeroVersion("example.com/m"))
	assert.Equal(t, "v2.0.0-00010101000000-000000000000", zeroVersion("example.com/m/v2"))
}

// TestCheckPinsRequiredBy: a module at a newer version than the host's
// names the modules that require that version, and the hint is the go
// get command that lowers the plugin's requirements.
func TestCheckPinsRequiredBy(t *testing.T) {
	host := &debug.BuildInfo{Main: debug.Module{Path: "example.com/host", Version: "v1.0.0"},
		Deps: []*debug.Module{{Path: "github.com/plugink/plugink", Version: "v0.6.0"}, {Path: "example.com/fork", Version: "v1.0.0", Replace: &debug.Module{Path: "example.com/f2", Version: "v1.0.0"}}}}
	graph := []listedModule{{Path: "example.com/plug", Main: true}, {Path: "github.com/plugink/plugink", Version: "v0.7.0"}}
	reqs := map[module.Version][]string{{Path: "github.com/plugink/plugink", Version: "v0.7.0"}: {"example.com/extra@v1.0.0", "example.com/b@v1.1.0", "example.com/c@v1.0.0", "example.com/d@v1.0.0"}}
	for _, tc := range []struct {
		reqs map[module.Version][]string
		want string
	}{
		{nil, "module github.com/plugink/plugink: the plugin needs v0.7.0, a newer version than the host links (v0.6.0)"},
		{reqs, "module github.com/plugink/plugink: the plugin needs v0.7.0, a newer version than the host links (v0.6.0), required by example.com/extra@v1.0.0, example.com/b@v1.1.0, example.com/c@v1.0.0 and 1 more"},
	} {
		err := checkPins(graph, hostModules(host), host, "", tc.reqs)
		var pe *PinError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, []string{tc.want}, pe.Problems)
		assert.True(t, strings.HasSuffix(pe.Hint, ": go get github.com/plugink/plugink@v0.6.0"), pe.Hint)
	}
}

// TestParseRequirers: go mod graph's edges by the version they require;
// the main module only when no other module requires that version.
func TestParseRequirers(t *testing.T) {
	out := []byte(`example.com/plug example.com/extra@v1.0.0
example.com/plug github.com/plugink/plugink@v0.7.0
example.com/plug example.com/shared@v1.3.0
example.com/plug go@1.26
example.com/extra@v1.0.0 github.com/plugink/plugink@v0.7.0
example.com/extra@v1.0.0 github.com/plugink/plugink@v0.7.0
github.com/plugink/plugink@v0.7.0 golang.org/x/mod@v0.43.0
`)
	reqs := parseRequirers(out)
	assert.Equal(t, []string{"example.com/extra@v1.0.0"}, reqs[module.Version{Path: "github.com/plugink/plugink", Version: "v0.7.0"}])
	assert.Equal(t, []string{"example.com/plug"}, reqs[module.Version{Path: "example.com/shared", Version: "v1.3.0"}])
	assert.Equal(t, []string{"github.com/plugink/plugink@v0.7.0"}, reqs[module.Version{Path: "golang.org/x/mod", Version: "v0.43.0"}])
}
