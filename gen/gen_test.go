package gen_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plugink/plugink/gen"
	"github.com/plugink/plugink/gen/emit"
	"github.com/plugink/plugink/internal/testmod"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

const okHost = "testdata/ok/greeter"

func generate(t *testing.T, dir string) []gen.File {
	t.Helper()
	files, checked, err := gen.Generate(context.Background(), gen.Options{Dir: dir})
	require.NoError(t, err)
	require.NotNil(t, checked)
	require.Len(t, files, len(emit.Files))
	return files
}

// golden compares got with the file want, or rewrites it under -update.
func golden(t *testing.T, want string, got []byte) {
	t.Helper()
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(want), 0o755))
		require.NoError(t, os.WriteFile(want, got, 0o644))
		return
	}
	data, err := os.ReadFile(want)
	require.NoError(t, err, "run go test ./gen -update to create it")
	assert.Equal(t, string(data), string(got), "%s differs; run go test ./gen -update and review the diff", want)
}

func TestGenerateGolden(t *testing.T) {
	files := generate(t, okHost)
	for _, f := range files {
		golden(t, filepath.Join(okHost, "want", filepath.Base(f.Path)+".golden"), f.Data)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	first := generate(t, okHost)
	for range 3 {
		again := generate(t, okHost)
		for i := range first {
			assert.Equal(t, first[i].Data, again[i].Data, "byte-identical output for the same inputs")
		}
	}
}

// TestGeneratedCodeRuns compiles the generated files into the test host in
// both modes (vet-clean) and runs the static build, as stringer's tests do:
// the output is checked by running it. The files reach the go command
// through -overlay, so testdata is never written.
func TestGeneratedCodeRuns(t *testing.T) {
	testmod.SkipIfShort(t)
	files := generate(t, okHost)
	overlay := map[string]string{}
	tmp := t.TempDir()
	for _, f := range files {
		abs, err := filepath.Abs(f.Path)
		require.NoError(t, err)
		src := filepath.Join(tmp, filepath.Base(f.Path))
		require.NoError(t, os.WriteFile(src, f.Data, 0o644))
		overlay[abs] = src
	}
	data, err := json.Marshal(map[string]any{"Replace": overlay})
	require.NoError(t, err)
	ov := filepath.Join(tmp, "overlay.json")
	require.NoError(t, os.WriteFile(ov, data, 0o644))

	goCmd := func(args ...string) string {
		cmd := exec.Command("go", args...)
		cmd.Dir = okHost
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go %s:\n%s", strings.Join(args, " "), out)
		return string(out)
	}
	goCmd("vet", "-overlay", ov, ".")
	goCmd("vet", "-overlay", ov, "-tags", "plugink_dynamic", ".")
	out := goCmd("run", "-overlay", ov, ".")
	assert.Equal(t, strings.Join([]string{
		"client alpha -> alpha",
		"client beta -> beta",
		"greeter hello -> hello you",
		"greeter hi -> hi you",
		"",
	}, "\n"), out)
}

// TestManifestErrors runs every bad manifest under testdata/errors and
// compares all the problems reported with want.txt.
func TestManifestErrors(t *testing.T) {
	dirs, err := filepath.Glob("testdata/errors/*")
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			files, _, err := gen.Generate(context.Background(), gen.Options{Dir: dir})
			require.Error(t, err)
			assert.Nil(t, files, "no file on error")
			var list gen.ErrorList
			require.True(t, errors.As(err, &list), "an ErrorList with positions: %v", err)
			for _, e := range list {
				assert.Equal(t, filepath.Join(dir, "plugink.yaml"), e.Pos.Filename)
				assert.Positive(t, e.Pos.Line)
			}
			golden(t, filepath.Join(dir, "want.txt"), []byte(err.Error()+"\n"))
		})
	}
}

func TestManifestParse(t *testing.T) {
	m, err := gen.ReadManifest(filepath.Join(okHost, "plugink.yaml"))
	require.NoError(t, err)
	assert.Equal(t, "build/plugins", m.DynamicDir)
	require.Len(t, m.Kinds, 2)
	assert.Equal(t, "client", m.Kinds[0].Name)
	assert.Equal(t, "DefaultClients", m.Kinds[0].Var)
	require.Len(t, m.Plugins, 5)
	assert.Len(t, m.Enabled(), 4)
	assert.Equal(t, "client_beta.so", m.Plugins[0].FileName())
	assert.True(t, m.Plugins[3].Replace)
	assert.Equal(t, 13, m.Plugins[0].Pos.Line)
	assert.Equal(t, "SIGHUP", m.UpgradeSignal)
	assert.Equal(t, []string{"plugink-ed25519 0EqyMnQrtKs6E2i9RhXk5tAiSrcaAWuvhSCjMsl3hzc=", "plugink-ed25519 oJql9HpnWYAv+VX43C0qFKXJnSO+l/hkEn/5ODRVpPA="}, m.TrustedKeys)
	nokeys, err := gen.ParseManifest("nokeys.yaml", []byte("kinds: {}\ndynamic:\n  trusted_keys:\n"))
	require.NoError(t, err, "trusted_keys: with nothing after it is no keys")
	assert.Empty(t, nokeys.TrustedKeys)

	rs, err := gen.ParseManifest("rs.yaml", []byte("kinds: {}\ndynamic:\n  require_sums: true\n"))
	require.NoError(t, err)
	assert.True(t, rs.RequireSums)
	_, err = gen.ParseManifest("sig.yaml", []byte("kinds: {}\ndynamic:\n  upgrade_signal: SIGKILL\n"))
	assert.EqualError(t, err, `sig.yaml:3:19: dynamic.upgrade_signal "SIGKILL" is not a signal a host may upgrade on; want one of SIGHUP, SIGUSR1, SIGUSR2`)
	_, err = gen.ParseManifest("rs.yaml", []byte("kinds: {}\ndynamic:\n  require_sums: yes\n"))
	assert.EqualError(t, err, `rs.yaml:3:17: dynamic.require_sums must be true or false, found "yes"`)

	none, err := gen.ParseManifest("none.yaml", []byte("kinds: {}\nplugins:\n#  - name: commented-out\n"))
	require.NoError(t, err, "plugins: with nothing after it is no plugins")
	assert.Empty(t, none.Plugins)
	_, err = gen.ParseManifest("str.yaml", []byte("kinds: {}\nplugins: none\n"))
	assert.EqualError(t, err, `str.yaml:2:10: plugins must be a list, found "none"`)

	_, err = gen.ParseManifest("empty.yaml", nil)
	assert.EqualError(t, err, "empty.yaml:1:1: empty manifest: want a mapping with kinds and plugins")
	_, err = gen.ParseManifest("two.yaml", []byte("kinds: {}\n---\nkinds: {}\n"))
	assert.ErrorContains(t, err, "two.yaml:2:1: a manifest holds one YAML document")
	_, err = gen.ParseManifest("nokinds.yaml", []byte("plugins: []\n"))
	assert.EqualError(t, err, `nokinds.yaml:1:1: manifest: missing key "kinds" (the kinds plugins may be of)`)
	_, err = gen.ReadManifest(filepath.Join(t.TempDir(), "missing.yaml"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.go")
	files := []gen.File{{Path: a, Data: []byte("package a\n")}}
	require.NoError(t, gen.WriteFiles(files))
	got, err := os.ReadFile(a)
	require.NoError(t, err)
	assert.Equal(t, "package a\n", string(got))

	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	require.NoError(t, os.Chtimes(a, old, old))
	require.NoError(t, gen.WriteFiles(files))
	fi, err := os.Stat(a)
	require.NoError(t, err)
	assert.Equal(t, old, fi.ModTime(), "an unchanged file is not rewritten")

	err = gen.WriteFiles([]gen.File{{Path: filepath.Join(dir, "missing", "b.go"), Data: []byte("x")}})
	assert.Error(t, err)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file is left behind")

	// All or nothing: the second file cannot be written (its path is a
	// directory), so the first keeps its old content.
	sub := filepath.Join(dir, "sub.go")
	require.NoError(t, os.Mkdir(sub, 0o755))
	err = gen.WriteFiles([]gen.File{{Path: a, Data: []byte("package b\n")}, {Path: sub, Data: []byte("package b\n")}})
	assert.ErrorContains(t, err, "sub.go")
	got, err = os.ReadFile(a)
	require.NoError(t, err)
	assert.Equal(t, "package a\n", string(got), "a failed write leaves every file as it was")
	entries, err = os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "no temporary file is left behind")
}

// TestStaticFileGuardsConstructorType: the static file wraps each
// constructor in its kind's TypeCheck, so that when a plugin's constructor
// changes type, the file generated before stops compiling, at that plugin,
// instead of registering a constructor of the wrong type.
func TestStaticFileGuardsConstructorType(t *testing.T) {
	testmod.SkipIfShort(t)
	host, _ := testmod.Service(t, 1)
	files, _, err := gen.Generate(context.Background(), gen.Options{Dir: host})
	require.NoError(t, err)
	require.NoError(t, gen.WriteFiles(files))
	module := filepath.Dir(filepath.Dir(host))
	testmod.Go(t, module, "build", "-o", os.DevNull, "./cmd/svc")

	testmod.Write(t, module, map[string]string{"plugins/p00/p00.go": `package p00

import "example.com/svc/client"

type c struct{}

func (c) Call(s string) string { return s }

func NewClient(addr string) client.Client { return c{} }
`})
	cmd := exec.Command("go", "build", "-o", os.DevNull, "./cmd/svc")
	cmd.Dir = module
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the stale static file must not compile")
	assert.Contains(t, string(out), "zz_plugink_static.go")
	assert.Contains(t, string(out), "p00.NewClient")
	assert.Contains(t, string(out), "TypeCheck")
}
